"""Fuzz targets for every reader of untrusted input.

Each target is a hypothesis strategy plus a check function. The check feeds one input to a
reader and lets through only the package's typed errors (``RnnlmError`` subclasses, which
include ``MissingFileError``); anything else -- a built-in exception, a crash, a hang or an
unbounded allocation -- is a failure. ``fuzz/run.py`` runs the targets (in a process with a
memory limit and a hang watchdog); ``tests/test_fuzz.py`` runs a short burst of each.

Targets: ``model`` (model loader), ``checkpoint`` (what resuming reads: state, data
fingerprints, last good weights), ``vocab`` (vocabulary file loader), ``corpus``
(``Vocabulary.from_corpus`` and ``RNNLM.encode_file``, plain and gzip), ``nbest`` (every
n-best reader through ``read_nbest``, with and without format detection), ``rnnlm04b``
(rnnlm-0.4b model files, text and binary: ``targets_rnnlm04b.py``).
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import tempfile
import warnings
import zlib
from pathlib import Path
from typing import Callable

from hypothesis import strategies as st

from rnnlm_fast import RNNLM, OovWarning, RnnlmError, Vocabulary
from rnnlm_fast.checkpoint import check_resumed_data, data_fingerprint, load_checkpoint
from rnnlm_fast.model_file import _PRELUDE
from rnnlm_fast.nbest import FORMATS, read_nbest

import targets_rnnlm04b

_SEED_CORPUS = "\n".join([
    "the cat sat on the mat", "a dog ate the cat", "the mat sat on a dog", "every cat ate a mat",
    "a dog sat", "the dog ate every mat", "some cat sat on some dog",
]) + "\n"


class Workspace:
    """A scratch directory with the valid seed files the mutations start from."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="rnnlm-fuzz-"))
        corpus = self.dir / "seed.txt"
        corpus.write_text(_SEED_CORPUS, encoding="utf-8")
        self.vocab = Vocabulary.from_corpus(corpus, classes=3)
        self.model = RNNLM(self.vocab, hidden=4, seed=1)
        self.model.save(self.dir / "seed.rnnlm")
        trainee = RNNLM(self.vocab, hidden=4, seed=1)
        trainee.train(corpus, corpus, max_epochs=1, progress=False, checkpoint=self.dir / "seed.ckpt")
        self.ckpt_bytes = (self.dir / "seed.ckpt").read_bytes()
        self.vocab.save(self.dir / "seed.vocab")
        self.model_bytes = (self.dir / "seed.rnnlm").read_bytes()
        self.vocab_bytes = (self.dir / "seed.vocab").read_bytes()
        self.corpus_bytes = corpus.read_bytes()
        self.corpus = corpus
        self.examples = 0

    def path(self, name: str) -> Path:
        return self.dir / name

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# --- generic byte mutations --------------------------------------------------------------
def _mutate(data: bytes, ops: list[tuple[int, int, int, bytes]]) -> bytes:
    """Apply (kind, position, amount, payload) edits: 0 flip, 1 truncate, 2 insert, 3 overwrite, 4 delete."""
    b = bytearray(data)
    for kind, pos, amount, payload in ops:
        if not b and kind != 2:
            continue
        pos %= max(len(b), 1)
        if kind == 0:
            b[pos] ^= 1 << (amount % 8)
        elif kind == 1:
            del b[pos:]
        elif kind == 2:
            b[pos:pos] = payload
        elif kind == 3:
            b[pos:pos + len(payload)] = payload
        else:
            del b[pos:pos + 1 + amount % 64]
    return bytes(b)


_OPS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1 << 30), st.integers(0, 255),
                          st.binary(max_size=16)), min_size=1, max_size=6)


def mutated(seed: Callable[["Workspace"], bytes]) -> st.SearchStrategy:
    return _OPS.map(lambda ops: (seed, ops))


# --- model files ---------------------------------------------------------------------------
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=8,
)
_HEADER_KEYS = ["config", "train_options", "history", "sections", "format", "checkpoint", "schedule",
                "options", "data", "rollbacks", "has_good", "version", "lr", "epoch", "previous_logprob",
                "train", "valid"]
_HEADER_PATHS = st.lists(st.sampled_from(_HEADER_KEYS + ["vocab_size", "hidden", "classes", "activation",
                                                         "seed", "shape", "offset", "size", "dtype", "name",
                                                         "crc32", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1]),
                         min_size=1, max_size=4)


def _rewrite_header(data: bytes, edit: Callable[[dict], None]) -> bytes:
    """Edit the JSON header of a valid model file and fix the header checksum and offsets."""
    _, version, size, _ = _PRELUDE.unpack(data[:_PRELUDE.size])
    header = json.loads(data[_PRELUDE.size:_PRELUDE.size + size])
    old_start = -(-(_PRELUDE.size + size) // 64) * 64
    edit(header)
    head = json.dumps(header, ensure_ascii=False, allow_nan=True).encode("utf-8")
    start = -(-(_PRELUDE.size + len(head)) // 64) * 64
    return (_PRELUDE.pack(data[:8], version, len(head), zlib.crc32(head)) + head
            + b"\0" * (start - _PRELUDE.size - len(head)) + data[old_start:])


def _set_path(obj, path: list, value) -> None:
    for i, key in enumerate(path):
        last = i == len(path) - 1
        if isinstance(obj, dict):
            key = key if isinstance(key, str) else str(key)
            if last or key not in obj:
                obj[key] = value
                return
            obj = obj[key]
        elif isinstance(obj, list) and obj:
            idx = key if isinstance(key, int) else 0
            idx %= len(obj)
            if last:
                obj[idx] = value
                return
            obj = obj[idx]
        else:
            return


MODEL_INPUTS = st.one_of(
    st.binary(max_size=2048).map(lambda b: ("raw", b)),
    st.binary(max_size=512).map(lambda b: ("prelude+", b)),
    mutated(lambda ws: ws.model_bytes).map(lambda x: ("mutate", x)),
    mutated(lambda ws: ws.ckpt_bytes).map(lambda x: ("mutate", x)),
    st.lists(st.tuples(_HEADER_PATHS, _JSON_VALUES), min_size=1, max_size=3).map(lambda x: ("header", x)),
    st.lists(st.tuples(_HEADER_PATHS, _JSON_VALUES), min_size=1, max_size=3)
    .map(lambda x: ("ckpt-header", x)),
    st.tuples(st.lists(st.tuples(_HEADER_PATHS, _JSON_VALUES), min_size=1, max_size=2), _OPS)
    .map(lambda x: ("header+mutate", x)),
    st.integers(0, (1 << 32) - 1).map(lambda v: ("version", v)),
)


def model_input_bytes(ws: Workspace, case) -> bytes:
    kind, arg = case
    if kind == "raw":
        return arg
    if kind == "prelude+":
        return ws.model_bytes[:_PRELUDE.size] + arg
    if kind == "mutate":
        seed, ops = arg
        return _mutate(seed(ws), ops)
    if kind == "version":
        return ws.model_bytes[:8] + struct.pack("<I", arg) + ws.model_bytes[12:]

    def edit(header, edits):
        for path, value in edits:
            _set_path(header, list(path), value)

    if kind == "header":
        return _rewrite_header(ws.model_bytes, lambda h: edit(h, arg))
    if kind == "ckpt-header":
        return _rewrite_header(ws.ckpt_bytes, lambda h: edit(h, [(["checkpoint", *p], v) for p, v in arg]))
    edits, ops = arg
    return _mutate(_rewrite_header(ws.model_bytes, lambda h: edit(h, edits)), ops)


def check_model(ws: Workspace, case) -> None:
    p = ws.path("fuzz.rnnlm")
    p.write_bytes(model_input_bytes(ws, case))
    try:
        m = RNNLM.load(p)
    except RnnlmError:
        return
    # Whatever loads must be usable: score a sentence (any share of unknown words: the
    # OOV-rate check is not what is fuzzed here).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OovWarning)
        m.score(["the cat sat", ""], max_oov_rate=1.0)
    try:
        load_checkpoint(RNNLM, p)
    except RnnlmError:
        pass


# --- checkpoints ---------------------------------------------------------------------------
_CKPT_PATHS = st.lists(st.sampled_from(["schedule", "rollbacks", "options", "data", "has_good", "version",
                                        "train", "valid", "file", "size", "sha256", "encoded_sha256", "words",
                                        "path", "lr", "epoch", "done", "halving", "max_epochs",
                                        "previous_logprob", "threads", "bptt", "hidden", 0, 1]),
                       min_size=1, max_size=4)
CHECKPOINT_INPUTS = st.one_of(
    mutated(lambda ws: ws.ckpt_bytes).map(lambda x: ("mutate", x)),
    st.lists(st.tuples(_CKPT_PATHS, _JSON_VALUES), min_size=1, max_size=4).map(lambda x: ("ckpt-header", x)),
    # the data fingerprints and the schedule, field by field
    st.lists(st.tuples(st.tuples(st.sampled_from(["data"]), st.sampled_from(["train", "valid"]),
                                 st.sampled_from(["file", "path", "words", "encoded_sha256"]),
                                 st.sampled_from([None, "size", "sha256", "hashed"])).map(
                                     lambda t: [k for k in t if k is not None])
                       | st.tuples(st.sampled_from(["schedule"]), st.sampled_from(
                           ["lr", "epoch", "done", "halving", "max_epochs", "previous_logprob",
                            "min_improvement"])).map(list),
                       _JSON_VALUES), min_size=1, max_size=3).map(lambda x: ("ckpt-header", x)),
    st.lists(st.tuples(_HEADER_PATHS, _JSON_VALUES), min_size=1, max_size=2).map(
        lambda x: ("ckpt-header", [(["..", *p], v) for p, v in x])),
)


def check_checkpoint(ws: Workspace, case) -> None:
    """What resuming reads from a checkpoint before it trains: the state, the data
    fingerprints compared with the seed corpus (file and encoded), the last good weights."""
    kind, arg = case
    if kind == "mutate":
        data = _mutate(arg[0](ws), arg[1])
    else:
        def edit(header):
            for path, value in arg:
                if path[0] == "..":  # an edit of the whole header
                    _set_path(header, list(path[1:]), value)
                else:
                    _set_path(header, ["checkpoint", *path], value)
        data = _rewrite_header(ws.ckpt_bytes, edit)
    p = ws.path("fuzz.ckpt")
    p.write_bytes(data)
    try:
        model, state = load_checkpoint(RNNLM, p)
        state.check_files(ws.corpus, ws.corpus)
        enc = model.encode_file(ws.corpus)
        fp = data_fingerprint(ws.corpus, enc)
        check_resumed_data(p, {"train": fp, "valid": fp}, state.data)
    except RnnlmError:
        return
    assert isinstance(state.rollbacks, int) and state.rollbacks >= 0
    assert all(isinstance(v, (int, float, str, bool, type(None))) for v in state.options.values())
    if state.good is not None:
        assert state.good.keys() == model.weights().keys()


# --- vocabulary files ---------------------------------------------------------------------
_INT_TEXT = st.one_of(st.integers(-(1 << 70), 1 << 70).map(str),
                      st.sampled_from(["", "-0", "+1", "1e3", "٣", " 1", "0x10", "1_000", "9" * 5000]))
_VOCAB_LINES = st.lists(st.one_of(
    st.tuples(_INT_TEXT, st.text(max_size=6), _INT_TEXT, _INT_TEXT).map(lambda t: "\t".join(t)),
    st.text(max_size=20),
), max_size=12)

VOCAB_INPUTS = st.one_of(
    st.binary(max_size=1024).map(lambda b: ("raw", b)),
    mutated(lambda ws: ws.vocab_bytes).map(lambda x: ("mutate", x)),
    _VOCAB_LINES.map(lambda lines: ("lines", lines)),
)


def check_vocab(ws: Workspace, case) -> None:
    kind, arg = case
    if kind == "raw":
        data = arg
    elif kind == "mutate":
        data = _mutate(arg[0](ws), arg[1])
    else:
        data = ("# rnnlm-fast vocabulary v1\n0\t</s>\t5\t0\n" + "\n".join(arg) + "\n").encode(
            "utf-8", "surrogatepass")
    p = ws.path("fuzz.vocab")
    p.write_bytes(data)
    try:
        v = Vocabulary.load(p)
    except RnnlmError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OovWarning)
        RNNLM(v, hidden=2, seed=1).score(["a b"], max_oov_rate=1.0)


# --- corpora ------------------------------------------------------------------------------
_WORDS = st.sampled_from(["the", "cat", "\ufeff", "\r", "\t", " ", "\n", "\x00", "\xff", "é", "\u2028",
                          "<unk>", "</s>", "\x0b", "\x0c", "a" * 300])
CORPUS_INPUTS = st.tuples(
    st.one_of(
        st.binary(max_size=2048).map(lambda b: ("raw", b)),
        mutated(lambda ws: ws.corpus_bytes).map(lambda x: ("mutate", x)),
        st.lists(_WORDS, max_size=60).map(lambda ws_: ("words", ws_)),
    ),
    st.sampled_from(["plain", "gz", "gz-mutated", "fake-gz"]),
    _OPS,
    st.sampled_from([64, 1000, 1 << 18]),
)


def check_corpus(ws: Workspace, case) -> None:
    (kind, arg), container, ops, max_line_bytes = case
    if kind == "raw":
        data = arg
    elif kind == "mutate":
        data = _mutate(arg[0](ws), arg[1])
    else:
        data = "".join(w if w in ("\n", " ", "\t", "\r") else w + " " for w in arg).encode(
            "utf-8", "surrogatepass")
    if container == "plain":
        p = ws.path("fuzz.txt")
    else:
        p = ws.path("fuzz.txt.gz")
        if container == "gz":
            data = gzip.compress(data, mtime=0)
        elif container == "gz-mutated":
            data = _mutate(gzip.compress(data, mtime=0), ops)
        # fake-gz: a .gz name on raw bytes
    p.write_bytes(data)
    try:
        v = Vocabulary.from_corpus(p, classes=3, max_line_bytes=max_line_bytes)
        assert len(v) >= 1
    except RnnlmError:
        pass
    try:
        enc = ws.model.encode_file(p, max_line_bytes=max_line_bytes)
        assert enc.offsets[-1] == len(enc.ids)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OovWarning)
            ws.model.perplexity(enc, max_oov_rate=1.0)
    except RnnlmError:
        pass


# --- n-best lists -------------------------------------------------------------------------
_NBEST_SEEDS = {
    "rnnlm": b"u1 the cat sat\nu1 the cat sad\nu2 a dog\n",
    "srilm": b"NBestList2.0\n"
             b"(-100) the ( st: 0.0 et: 0.5 g: -10 a: -90 ) cat ( st: 0.5 et: 1.0 g: -5 a: -5 )\n",
    "srilm-plain": b"-12.5 -3.25 2 the cat\n-13 -4 2 the mat\n",
    "tsv": b"utt_id\trank\tam\tlm\ttext\nu1\t1\t-1.5\t-2\tthe cat\nu1\t2\t-2\t-2.5\tthe mat\n",
    "kaldi.text": b"u1-1 the cat\nu1-2 the mat\nu2-1 a dog\n",
    "kaldi.acwt": b"u1-1 10.5\nu1-2 11\nu2-1 3\n",
    "kaldi.lmwt": b"u1-1 1.5\nu1-2 2\nu2-1 0.5\n",
    "espnet.text": b"u1 the cat\nu2 a dog\n",
    "espnet.score": b"u1 tensor(-8.75)\nu2 tensor(-3.5, device='cuda:0')\n",
}
_NBEST_KIND = st.sampled_from(["rnnlm", "srilm", "srilm-plain", "tsv", "kaldi", "espnet"])
_BLOB = st.one_of(st.binary(max_size=512).map(lambda b: (None, b)),
                  _OPS.map(lambda ops: ("seed", ops)))
NBEST_INPUTS = st.tuples(_NBEST_KIND, _BLOB, _BLOB, _BLOB, st.sampled_from([None, "given"]), st.booleans())


def _blob(seed: bytes, blob) -> bytes:
    kind, arg = blob
    return arg if kind is None else _mutate(seed, arg)


def check_nbest(ws: Workspace, case) -> None:
    kind, b1, b2, b3, fmt, gz = case
    root = ws.path("nbest")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    if kind in ("rnnlm", "srilm", "srilm-plain", "tsv"):
        data = _blob(_NBEST_SEEDS[kind], b1)
        p = root / ("utt1.txt.gz" if gz and kind.startswith("srilm") else "utt1.txt")
        p.write_bytes(gzip.compress(data, mtime=0) if p.suffix == ".gz" else data)
        target, format = p, {"srilm-plain": "srilm"}.get(kind, kind)
    elif kind == "kaldi":
        for name, blob in zip(("text", "acwt", "lmwt"), (b1, b2, b3)):
            (root / name).write_bytes(_blob(_NBEST_SEEDS[f"kaldi.{name}"], blob))
        target, format = root, "kaldi"
    else:
        d = root / "logdir" / "output.1" / "1best_recog"
        d.mkdir(parents=True)
        (d / "text").write_bytes(_blob(_NBEST_SEEDS["espnet.text"], b1))
        (d / "score").write_bytes(_blob(_NBEST_SEEDS["espnet.score"], b2))
        if gz:
            d2 = root / "logdir" / "output.1" / "2best_recog"
            d2.mkdir()
            (d2 / "text").write_bytes(_blob(_NBEST_SEEDS["espnet.text"], b3))
            (d2 / "score").write_bytes(_NBEST_SEEDS["espnet.score"])
        target, format = root, "espnet"
    try:
        lists = read_nbest(target, format=format if fmt else None)
    except RnnlmError:
        return
    assert all(assert_list(n) for n in lists)
    assert set(FORMATS) >= {format}


def assert_list(nbest) -> bool:
    assert isinstance(nbest.utt_id, str) and nbest.utt_id
    for h in nbest.hyps:
        assert isinstance(h.text, str) and all(isinstance(v, float) for v in h.scores.values()), h
    return True


TARGETS: dict[str, tuple[st.SearchStrategy, Callable]] = {
    "model": (MODEL_INPUTS, check_model),
    "checkpoint": (CHECKPOINT_INPUTS, check_checkpoint),
    "vocab": (VOCAB_INPUTS, check_vocab),
    "corpus": (CORPUS_INPUTS, check_corpus),
    "nbest": (NBEST_INPUTS, check_nbest),
    "rnnlm04b": (targets_rnnlm04b.inputs(_OPS), targets_rnnlm04b.make_check(_mutate)),
}

