"""rnnlm_fast.kenlm is a drop-in for KenLM's Python module: one client function, written for
KenLM, runs against a real ``kenlm.Model`` (a bigram ARPA built here from the toy text) and
against ``rnnlm_fast.kenlm.Model`` on an RNNLM of the same text. Same calls, same types, the
same answers to every yes/no question (``in``, oov flags, state equality, consistency between
calls); only the numbers differ."""

from __future__ import annotations

import ast
import copy
import math
import pickle
from pathlib import Path

import pytest
from corpora import bigram_arpa
from helpers import CLASSES, HIDDEN

import rnnlm_fast.kenlm as rnn_kenlm
from rnnlm_fast import RNNLM, Vocabulary

kenlm = pytest.importorskip("kenlm", reason="the kenlm extra is not installed")

SENTENCES = ["the noun1 verb1", "a adj2 noun3 verb4 the noun5", "the zebra verb1", ""]


def kenlm_client(kenlm, model, sentences) -> dict:
    """Code as a KenLM user writes it: whole sentences, the decoder's state API, ``in``."""
    out = {"order": type(model.order), "repr": repr(model).startswith("<Model from "),
           "in": [w in model for w in ("the", "noun1", "<s>", "</s>", "<unk>", "zebra", b"the")]}
    for s in sentences:
        n = len(s.split())
        total, no_bos = model.score(s), model.score(s, bos=False, eos=True)
        full = model.full_scores(s)
        row = {"score": [total, no_bos, model.score(s, eos=False), model.score(s, bos=False, eos=False)],
               "generator": type(full).__name__, "full": list(full),
               "full_no_bos": list(model.full_scores(s, bos=False, eos=False)),
               "perplexity": model.perplexity(s)}
        kenlm_formula = 10 ** (-total / (n + 1))
        row["perplexity_is_kenlm_formula"] = math.isclose(row["perplexity"], kenlm_formula, rel_tol=1e-9)
        row["full_sums_to_score"] = math.isclose(sum(p for p, _, _ in row["full"]), total, abs_tol=1e-4)
        row["bos_matters"] = not math.isclose(total, no_bos, abs_tol=1e-6)
        # the decoder: word by word from <s>, then from the null context
        state, out_state = kenlm.State(), kenlm.State()
        model.BeginSentenceWrite(state)
        stepped, lengths = 0.0, []
        for w in s.split() + ["</s>"]:
            full_score = model.BaseFullScore(state, w, out_state)
            lengths.append(full_score.ngram_length)
            stepped += model.BaseScore(state, w, out_state)
            state, out_state = out_state, state
        row["base_full"] = (type(full_score).__name__, full_score.log_prob, full_score.oov)
        row["stepped_is_score"] = math.isclose(stepped, total, abs_tol=1e-4)
        row["stepped_lengths_are_full_scores"] = lengths == [length for _, length, _ in row["full"]]
        model.NullContextWrite(state)
        stepped = 0.0
        for w in s.split() + ["</s>"]:
            stepped += model.BaseScore(state, w, out_state)
            state, out_state = out_state, state
        row["null_context_is_bos_false"] = math.isclose(stepped, no_bos, abs_tol=1e-4)
        out[s] = row
    # states: equal after the same history, hashable, copyable, sortable
    a, b, c = kenlm.State(), kenlm.State(), kenlm.State()
    model.BeginSentenceWrite(a)
    model.BeginSentenceWrite(b)
    model.BaseScore(a, "the", c)
    out["states"] = [a == b, hash(a) == hash(b), a == c, copy.copy(c) == c,
                     len({a, b, c}), (a < c) != (c < a)]
    try:
        model.score(3)
    except TypeError:
        out["score(3)"] = "TypeError"
    return out


def shape(value):
    """A result with every number replaced by its type: what must agree between the two."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return type(value).__name__
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [shape(v) for v in value])
    return type(value).__name__


@pytest.fixture(scope="module")
def files(toy, tmp_path_factory) -> dict:
    """The toy text with a line holding <unk> (so the RNNLM has one, as the ARPA has), a bigram
    ARPA of it, and an untrained RNNLM of its vocabulary."""
    d = tmp_path_factory.mktemp("drop_in")
    text = d / "train.txt"
    text.write_text(toy["train"].read_text(encoding="utf-8") + "the <unk> verb1\n", encoding="utf-8")
    RNNLM(Vocabulary.from_corpus(text, classes=CLASSES), hidden=HIDDEN, seed=1).save(d / "model.rnnlm")
    return {"arpa": bigram_arpa(text, d / "bigram.arpa"), "model": d / "model.rnnlm"}


@pytest.fixture(scope="module")
def both(files):
    return kenlm.Model(str(files["arpa"])), rnn_kenlm.Model(files["model"])


def test_a_kenlm_client_runs_unchanged_on_the_adapter(both):
    real, ours = both
    want, got = kenlm_client(kenlm, real, SENTENCES), kenlm_client(rnn_kenlm, ours, SENTENCES)
    assert shape(got) == shape(want)
    # the yes/no answers are the ones KenLM gives (spelled out, so a change on both sides shows)
    assert got["in"] == [True, True, True, True, False, False, True]
    assert [oov for _, _, oov in got["the zebra verb1"]["full"]] == [False, True, False, False]
    assert got["states"] == [True, True, False, True, 2, True]
    for s in SENTENCES:
        assert all(v for k, v in got[s].items() if isinstance(v, bool)), s
    # only the numbers differ: the bigram caps the context at 2 words, the RNN never does
    assert max(length for _, length, _ in want["a adj2 noun3 verb4 the noun5"]["full"]) == 2
    assert [length for _, length, _ in got["a adj2 noun3 verb4 the noun5"]["full"]] == list(range(2, 9))


def test_the_numbers_are_the_models(both, files):
    _, ours = both
    model = RNNLM.load(files["model"])
    assert model.vocab.unk_id >= 0 and "<unk>" in model and "<unk>" not in ours  # KenLM: <unk> is no word
    s = SENTENCES[1]
    assert ours.score(s) == model.score(s) and ours.score(s.encode()) == model.score(s)
    assert ours.score(s, bos=False, eos=False) == model.score(s, bos=False, eos=False)
    assert ours.perplexity(s) == 10 ** (-model.score(s) / (len(s.split()) + 1))
    assert [p for p, _, _ in ours.full_scores(s)] == model.word_logprobs(s).tolist()
    assert ours.order == 2**31 - 1 and ours.path == str(files["model"].resolve()).encode()
    assert pickle.loads(pickle.dumps(ours)).score(s) == ours.score(s)
    assert rnn_kenlm.LanguageModel is rnn_kenlm.Model and rnn_kenlm.State is not kenlm.State


def test_sentences_are_never_paths_and_unknown_words_never_warn(both, toy):
    _, ours = both
    path = str(toy["test"])  # a file's name is scored as a one-word sentence, as KenLM does
    assert ours.perplexity(path) == 10 ** (-ours.score(path) / 2)
    # all unknown: no OovWarning (an error in this suite) or OovError
    assert ours.score("zebra okapi gnu") < ours.score("the noun1 verb1")


def _private_methods(tree: ast.AST, cls: str) -> set[str]:
    """The names of the private methods (``_x``, not dunders) class ``cls`` defines."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {f.name for f in node.body if isinstance(f, ast.FunctionDef)
                    and f.name.startswith("_") and not f.name.endswith("__")}
    raise AssertionError(f"no class {cls}")


def _self_attributes(tree: ast.AST) -> set[str]:
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "self"}


def test_the_kenlm_surface_and_the_model_call_public_names_only():
    """kenlm.py reaches the model through its public calls only; the two halves of RNNLM
    (model.py and its KenLM-style mixin, kenlm_api.py) call none of each other's private methods."""
    package = Path(rnn_kenlm.__file__).parent
    trees = {name: ast.parse((package / f"{name}.py").read_text(encoding="utf-8"))
             for name in ("kenlm", "model", "kenlm_api")}
    reached = {n.attr for n in ast.walk(trees["kenlm"])
               if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.endswith("__")
               and not (isinstance(n.value, ast.Name) and n.value.id == "self")}
    assert reached == set()  # no other object's private names (self._options is its own)
    model_private = _private_methods(trees["model"], "RNNLM")
    mixin_private = _private_methods(trees["kenlm_api"], "KenlmApi")
    assert model_private and mixin_private
    assert _self_attributes(trees["kenlm_api"]) & model_private == set()
    assert _self_attributes(trees["model"]) & mixin_private == set()
