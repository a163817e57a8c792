"""Batched scoring (score_batch > 1: B sentences per thread through one BLAS product per step)
against the exact path (score_batch 1, bit-identical to word-by-word scoring): every word within
_core.BATCH_SCORE_TOLERANCE (ln P), for every cell, with direct connections, shared prefixes,
unknown words, carried state; thread counts; the option's checks on the API and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import BOOKS, run_main, trained

from rnnlm_fast import RNNLM, ConfigError, Vocabulary, _core
from rnnlm_fast.units import LN10

TOL = _core.BATCH_SCORE_TOLERANCE


def _model(cell: str, seed: int = 3, scale: float = 0.3) -> RNNLM:
    vocab = Vocabulary.from_corpus(str(BOOKS / "books.valid.txt.gz"), classes=20, min_count=2)
    model = RNNLM(vocab, hidden=24, cell=cell, seed=seed, direct=4096, direct_order=3)
    rng = np.random.default_rng(seed)
    for w in model.weights().values():  # every part non-zero, the direct table included
        w[...] = rng.normal(0.0, scale, w.shape)
    return model


def _lines(model: RNNLM, n_lists: int = 40) -> list[str]:
    """n-best-like lists: shared starts, duplicates, unknown words, an empty line, a long line."""
    rng = np.random.default_rng(0)
    words = model.vocab.words[1:60]
    lines = [""]
    for n in range(n_lists):
        base = [words[j] for j in rng.integers(0, len(words), size=int(rng.integers(2, 15)))]
        cut = int(rng.integers(0, len(base)))
        lines += [" ".join(base), " ".join(base[:cut] + ["notaword"] + base[cut:]),
                  " ".join(base[:cut] + [words[n % len(words)]] + base[cut + 1:]), " ".join(base)]
    lines.append(" ".join(words[j] for j in rng.integers(0, len(words), size=300)))
    return lines


def _max_ln_gap(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b)) * LN10


@pytest.mark.parametrize("cell", ["sigmoid", "tanh", "gru", "lstm"])
@pytest.mark.filterwarnings("ignore::rnnlm_fast.errors.OovWarning")
def test_every_word_is_within_the_bound_of_the_exact_path(cell):
    model = _model(cell)
    lines = _lines(model)
    exact = model.score_words(lines, threads=1, max_oov_rate=1.0)
    assert all(np.all(np.isfinite(p)) for p in exact)
    for batch in (2, 7, 32, 200):  # 200: more lanes than the text has runs of sentences
        got = model.score_words(lines, threads=2, max_oov_rate=1.0, score_batch=batch)
        assert [len(p) for p in got] == [len(p) for p in exact]
        assert _max_ln_gap(got, exact) <= TOL, (batch, _max_ln_gap(got, exact))
        sums = model.score(lines, threads=2, max_oov_rate=1.0, score_batch=batch)
        np.testing.assert_allclose(sums, [p.sum() for p in got], rtol=0, atol=1e-9)


@pytest.mark.filterwarnings("ignore::rnnlm_fast.errors.OovWarning")
def test_batched_scores_do_not_depend_on_thread_count():
    model = _model("gru")
    lines = _lines(model, n_lists=120)
    ref = model.score_words(lines, threads=1, max_oov_rate=1.0, score_batch=16)
    for threads in (2, 3):
        got = model.score_words(lines, threads=threads, max_oov_rate=1.0, score_batch=16)
        assert _max_ln_gap(got, ref) <= TOL


def test_carried_state_perplexity_is_within_the_bound(corpus, valid_corpus):
    """A trained model, state carried across sentences (chunks with a warm-up, as score_batch 1)."""
    model = trained(corpus, valid_corpus)
    exact = model.perplexity(valid_corpus, per_word=True)
    for batch in (3, 64):
        got = model.perplexity(valid_corpus, per_word=True, score_batch=batch, threads=2)
        assert got.words == exact.words
        assert float(np.abs(got.word_log10 - exact.word_log10).max()) * LN10 <= TOL
        assert got.ppl == pytest.approx(exact.ppl, rel=TOL)


@pytest.mark.parametrize("bad", [0, -3, _core.MAX_BATCH + 1, 2.5])
def test_bad_score_batch_is_a_config_error(bad):
    model = _model("sigmoid")
    with pytest.raises(ConfigError, match="score_batch"):
        model.score([" ".join(model.vocab.words[1:4])], score_batch=bad)


def test_the_commands_take_score_batch(capsys, tmp_path):
    model = _model("lstm")
    path = tmp_path / "m.rnnlm"
    model.save(path)
    lines = [ln for ln in _lines(model, 10) if "notaword" not in ln]
    text = tmp_path / "hyps.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = ("score", "--model", str(path), "--text", str(text), "--threads", "2")
    rc_exact, exact, _ = run_main(capsys, *base)
    rc_batched, batched, err = run_main(capsys, *base, "--score-batch", "8")
    assert rc_exact == 0 and rc_batched == 0, err
    a, b = np.array(exact.split(), dtype=float), np.array(batched.split(), dtype=float)
    assert len(a) == len(lines) and len(b) == len(lines)
    # per line: up to the bound at every word, plus the 6 printed decimals
    bound = np.array([len(ln.split()) + 1 for ln in lines]) * TOL / LN10 + 1e-6
    assert np.all(np.abs(a - b) <= bound)
    rc, out, err = run_main(capsys, *base, "--score-batch", "0")
    assert rc == 2 and "score_batch" in err and len(err.strip().split("\n")) == 1, err
    rc, out, err = run_main(capsys, "eval", "--model", str(path), "--text", str(text), "--score-batch", "4",
                            "--quiet")
    assert rc == 0 and "PPL" in out, err
