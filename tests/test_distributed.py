"""Distributed training in one process (rnnlm_fast/distributed/, csrc/epoch_run, csrc/update_marks):
an epoch run in parts equals one call, the engine marks every sparse weight it changes, packing,
BMUF's step, sharding, BMUF's slices, the install hint without mpi4py. Under mpiexec:
test_distributed_mpi.py (combinations) and test_distributed_faults.py (killed processes).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from corpora import write_corpus

from rnnlm_fast import RNNLM, ConfigError, Vocabulary, _core, options
from rnnlm_fast.cli import main
from rnnlm_fast.distributed.sync import WeightSync
from rnnlm_fast.distributed.trainer import shard_bounds
from rnnlm_fast.training import engine_options

HERE = Path(__file__).resolve().parent


# --- in-process --------------------------------------------------------------------------
def _twin_models(tmp_path: Path, cell: str, direct: int, embedding: int = 0):
    """A small corpus's vocabulary, two identical models of it and the encoded corpus."""
    path = write_corpus(tmp_path / "c.txt", 120, seed=2)
    vocab = Vocabulary.from_corpus(path, classes=5)
    one, parts = (RNNLM(vocab, hidden=8, cell=cell, seed=1, direct=direct, direct_order=3,
                        embedding=embedding) for _ in range(2))
    return vocab, one, parts, one.encode_file(path)


def _assert_every_sparse_write_marked(marks, vocab: Vocabulary, before: dict, after: dict,
                                      direct: int) -> None:
    """Every changed embedding row, word-class row and direct weight is marked (and, with a
    direct table, not all of it)."""
    m, V, C = marks.array(), marks.embed_rows, marks.classes
    changed_rows = np.flatnonzero((after["embed"] != before["embed"]).any(axis=1))
    assert changed_rows.size and m[changed_rows].all()
    changed_words = np.flatnonzero((after["word_w"] != before["word_w"]).any(axis=1)
                                   | (after["word_b"] != before["word_b"]))
    assert changed_words.size and m[V + vocab.word_class[changed_words]].all()
    if direct:
        changed = np.flatnonzero(after["direct"] != before["direct"])
        assert changed.size and m[V + C + changed // _core.DIRECT_BLOCK].all()
        assert not m[V + C:].all()  # and not everything


@pytest.mark.parametrize("cell,direct,dropout,streams", [("sigmoid", 0, 0.0, 1), ("gru", 20000, 0.3, 1),
                                                         ("lstm", 100000, 0.0, 1), ("gru", 20000, 0.3, 4),
                                                         ("sigmoid", 100000, 0.0, 3)])
def test_an_epoch_in_parts_is_one_epoch_and_marks_every_sparse_write(
        tmp_path, cell, direct, dropout, streams):
    vocab, one, parts, enc = _twin_models(tmp_path, cell, direct)
    engine = engine_options(options.resolve(options.EPOCH, {"dropout": dropout, "input_dropout": dropout}),
                            0.1, 7, 1, streams)
    whole = _core.train_epoch(one._core, enc.mapped, enc.offsets, engine)
    before = {k: v.copy() for k, v in parts.weights().items()}
    marks = _core.UpdateMarks(parts._core)
    run = _core.EpochRun(parts._core, enc.mapped, enc.offsets, engine, marks)
    for part in range(1, 8):
        stats = run.run(part, 7)
    assert run.finished and stats["processed"] == whole["processed"] == len(enc.ids)
    assert stats["logprob"] == whole["logprob"]
    for k, v in one.weights().items():
        assert np.array_equal(v, parts.weights()[k]), k
    _assert_every_sparse_write_marked(marks, vocab, before, parts.weights(), direct)
    marks.clear()
    assert not marks.array().any()


@pytest.mark.parametrize("cell,direct,dropout,embedding", [("sigmoid", 0, 0.0, 0), ("gru", 20000, 0.3, 0),
                                                          ("lstm", 100000, 0.2, 0), ("lstm", 20000, 0.3, 6)])
def test_a_block_epoch_in_parts_is_one_epoch_and_marks_every_sparse_write(tmp_path, cell, direct, dropout,
                                                                          embedding):
    """batch > 1: BlockEpochRun's parts (whole blocks, streams kept) compute train_block_epoch's
    epoch bit for bit with one thread, and mark what the updates wrote: distributed training
    syncs those rows (an embedding layer's projection, dense, travels whole)."""
    vocab, one, parts, enc = _twin_models(tmp_path, cell, direct, embedding)
    engine = _core.BlockTrainOptions(lr=0.5, l2=1e-5, clip_norm=5.0, dropout=dropout, input_dropout=dropout,
                                     batch=4, steps=3, independent=False, seed=7, threads=1)
    whole = _core.train_block_epoch(one._core, enc.mapped, enc.offsets, engine)
    before = {k: v.copy() for k, v in parts.weights().items()}
    marks = _core.UpdateMarks(parts._core)
    run = _core.BlockEpochRun(parts._core, enc.mapped, enc.offsets, engine, marks)
    seen = []
    for part in range(1, 8):
        stats = run.run(part, 7)
        seen.append(stats["processed"])
        assert stats["processed"] >= min(len(enc.ids), -(-part * len(enc.ids) // 7))
    assert seen == sorted(seen) and len(set(seen)) > 3  # the parts advanced step by step
    assert run.finished and stats["processed"] == whole["processed"] == len(enc.ids)
    assert stats["logprob"] == whole["logprob"] and stats["blocks"] == whole["blocks"]
    for k, v in one.weights().items():
        assert np.array_equal(v, parts.weights()[k]), k
    _assert_every_sparse_write_marked(marks, vocab, before, parts.weights(), direct)
    assert run.run(7, 7)["processed"] == len(enc.ids)  # a finished run does nothing more
    with pytest.raises(ConfigError, match="part must be in 1..parts"):
        run.run(8, 7)


def test_a_block_epoch_run_stops_when_progress_says_so():
    """Ctrl-C / an interrupted bar: the callback (every ~200 ms) returning False ends the run in
    the part it is in; later parts do nothing."""
    m = _core.Model(50, 64, [0, 10, 20, 30, 40, 50], "lstm", 0, 0, "splitmix")
    m.init_random(1)
    rng = np.random.default_rng(5)
    lengths = rng.integers(3, 12, size=40000)
    ids = rng.integers(0, 50, size=int(lengths.sum())).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    engine = _core.BlockTrainOptions(lr=0.1, l2=0.0, clip_norm=5.0, dropout=0.0, input_dropout=0.0,
                                     batch=2, steps=1, independent=False, seed=7, threads=1)
    run = _core.BlockEpochRun(m, ids, offsets, engine, _core.UpdateMarks(m))
    calls = []
    st = run.run(1, 2, lambda done, lp: calls.append(done) or False)
    assert st["interrupted"] and calls == [st["processed"]] and st["processed"] < len(ids)
    assert run.finished
    again = run.run(2, 2)
    assert again["processed"] == st["processed"] and again["interrupted"]


def test_pack_and_unpack_blocks_round_trip_with_a_short_last_block():
    a = np.arange(10, dtype=np.float32)
    idx = np.array([3, 0], dtype=np.int64)
    out = np.full(6, -1, dtype=np.float32)
    _core.pack_blocks(a, 3, idx, out)
    assert out.tolist() == [9, 0, 0, 0, 1, 2]  # block 3 holds one float, padded
    b = np.zeros(10, dtype=np.float32)
    _core.unpack_blocks(b, 3, idx, out, 0.5)
    assert b.tolist() == [0, 0.5, 1, 0, 0, 0, 0, 0, 0, 4.5]
    with pytest.raises(ConfigError, match="block 4 outside"):
        _core.pack_blocks(a, 3, np.array([4], dtype=np.int64), out)
    with pytest.raises(TypeError):  # a float64 array would be a silent copy: refused
        _core.unpack_blocks(b.astype(np.float64), 3, idx, out, 1.0)


def test_block_momentum_step_is_numpy_s_formula_bit_for_bit():
    """BMUF's step in C++ (one pass) rounds as the NumPy expressions it replaced did."""
    rng = np.random.default_rng(0)
    a, s, d = (rng.standard_normal(1001).astype(np.float32) for _ in range(3))
    for look_ahead, scale in ((True, 1.0), (False, 1.0), (True, 0.5)):
        m, lr = np.float32(0.5), np.float32(1.3)
        want_d = m * d + lr * (a * np.float32(scale) - s)
        global_ = s + want_d
        want_a = global_ + m * want_d if look_ahead else global_
        want_s = want_a if look_ahead else s
        got = [x.copy() for x in (a, s, d)]
        _core.block_momentum_step(*got, float(m), float(lr), look_ahead, scale)
        for g, w in zip(got, (want_a, want_s, want_d)):
            assert np.array_equal(g, w)
    with pytest.raises(ConfigError, match="same size"):
        _core.block_momentum_step(a, s[:10], d, 0.5, 1.0, True)
    with pytest.raises(TypeError):  # a float64 array would be a silent copy: refused
        _core.block_momentum_step(a.astype(np.float64), s, d, 0.5, 1.0, True)


def test_block_momentum_step_on_marked_blocks_leaves_the_others_alone():
    """The step on some blocks (the last one short) is the whole-array step there, bit for bit,
    with the packed sums as the average; the new weights also come back in the sums; other
    blocks keep their weights, start and momentum."""
    rng = np.random.default_rng(1)
    n, block = 1001, 8  # 126 blocks, the last of 1 float
    a, s, d = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    idx = np.array([125, 3, 0, 77], dtype=np.int64)
    marked = np.zeros(n, dtype=bool)
    for b in idx:
        marked[b * block:(b + 1) * block] = True
    total = rng.standard_normal(n).astype(np.float32)  # an unscaled sum of two processes' weights
    sums = np.zeros(len(idx) * block, dtype=np.float32)
    _core.pack_blocks(total, block, idx, sums)
    for look_ahead in (True, False):
        whole = [total.copy(), s.copy(), d.copy()]
        _core.block_momentum_step(*whole, 0.5, 1.3, look_ahead, 0.5)
        got, packed = [a.copy(), s.copy(), d.copy()], sums.copy()
        _core.block_momentum_step_blocks(*got, block, idx, packed, 0.5, 0.5, 1.3, look_ahead)
        for g, w, old in zip(got, whole, (a, s, d)):
            assert np.array_equal(g[marked], w[marked])
            assert np.array_equal(g[~marked], old[~marked])
        new = np.zeros_like(packed)
        _core.pack_blocks(got[0], block, idx, new)
        assert np.array_equal(packed.reshape(-1, block)[:, :1], new.reshape(-1, block)[:, :1])
        assert np.array_equal(packed[block:], new[block:])  # all but block 125's padding
    with pytest.raises(ConfigError, match="block 126 outside"):
        _core.block_momentum_step_blocks(a, s, d, block, np.array([126], dtype=np.int64), sums,
                                         1.0, 0.5, 1.0, True)
    with pytest.raises(ConfigError, match="fewer than"):
        _core.block_momentum_step_blocks(a, s, d, block, idx, sums[:8], 1.0, 0.5, 1.0, True)
    with pytest.raises(ConfigError, match="same size"):
        _core.block_momentum_step_blocks(a, s[:10], d, block, idx, sums, 1.0, 0.5, 1.0, True)


class _Rank:
    """What WeightSync asks of a communicator when it is built: its size and rank."""

    def __init__(self, size: int, rank: int = 0):
        self.size, self.rank = size, rank

    def Get_size(self) -> int:  # MPI's names
        return self.size

    def Get_rank(self) -> int:
        return self.rank


@pytest.mark.parametrize("size", [2, 3, 5])
def test_bmuf_slices_share_the_expected_marked_rows_and_tile_every_array(tmp_path, size):
    """The embedding's rows are sorted by frequency, so equal row counts would give the first
    process most of the rows a combination marks: its slices are cut by expected marks instead
    (equal within one row's weight), the word layer's by whole classes' expectations, and the
    dense arrays' evenly, as without a word count."""
    rng = np.random.default_rng(4)  # 300 words with Zipf's frequencies (1/rank), as in real text
    p = 1.0 / np.arange(1, 301)
    ids = rng.choice(300, size=(2000, 10), p=p / p.sum())
    (tmp_path / "t.txt").write_text("".join(" ".join(f"w{i}" for i in line) + "\n" for line in ids))
    vocab = Vocabulary.from_corpus(tmp_path / "t.txt", classes=10)
    m = RNNLM(vocab, hidden=4, seed=1)
    marks = _core.UpdateMarks(m._core)
    words = 50
    sync = WeightSync(m, _Rank(size), marks, "bmuf", words_per_combination=words)
    even = WeightSync(m, _Rank(size), marks, "bmuf")
    counts, total = vocab.counts.astype(np.int64), int(vocab.counts.sum())
    for k, b in sync.bounds.items():
        blocks = m.weights()[k].size // (m.weights()[k].shape[1] if k in ("embed", "word_w") else 1)
        assert b[0] == 0 and b[-1] == blocks and np.all(np.diff(b) >= 0), (k, b)
        assert even.bounds[k].tolist() == [blocks * r // size for r in range(size + 1)]
        if k not in ("embed", "word_w", "word_b"):
            assert b.tolist() == even.bounds[k].tolist()
    begin = vocab.class_begin
    class_counts = np.repeat(np.add.reduceat(counts, begin[:-1]), np.diff(begin))
    for k, per_row in (("word_w", class_counts), ("embed", counts)):
        expected = np.minimum(per_row * words, total)  # each row's chance to be marked, scaled
        b = sync.bounds[k]
        shares = [int(expected[lo:hi].sum()) for lo, hi in zip(b[:-1], b[1:])]
        assert max(shares) - min(shares) <= 2 * int(expected.max()), (k, shares)
    first_even = int(expected[:even.bounds["embed"][1]].sum())  # the embedding's first slice cut evenly
    assert first_even > 1.5 * max(shares)
    assert sync.bounds["word_w"].tolist() == sync.bounds["word_b"].tolist()


def test_shards_tile_the_sentences_with_about_equal_words():
    rng = np.random.default_rng(0)
    offsets = np.concatenate([[0], np.cumsum(rng.integers(1, 30, 1000))]).astype(np.int64)
    for parts in (1, 2, 3, 7, 16):
        b = shard_bounds(offsets, parts)
        assert b[0] == 0 and b[-1] == 1000 and all(x < y for x, y in zip(b, b[1:]))
        words = np.diff(offsets[b])
        assert words.max() - words.min() <= 2 * 30
    b = shard_bounds(offsets, 3, [2.0, 1.0, 1.0])  # in proportion to weights
    words = np.diff(offsets[b])
    assert (b[0] == 0 and b[-1] == 1000 and abs(words[0] - offsets[-1] / 2) <= 30
            and abs(words[1] - words[2]) <= 60)
    assert shard_bounds(offsets, 3, [1.0, 1e-9, 1e-9]) == [0, 998, 999, 1000]  # a sentence each at least


def test_without_mpi4py_a_distributed_run_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    path = write_corpus(tmp_path / "c.txt", 30)
    model = RNNLM(Vocabulary.from_corpus(path, classes=3), hidden=4)
    with pytest.raises(ConfigError, match=r'pip install "rnnlm-fast\[mpi\]"'):
        model.train(path, path, comm=object(), max_epochs=1, progress=False)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    rc = main(["train", "--train", str(path), "--valid", str(path), "--output", str(tmp_path / "m"),
               "--distributed"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and 'pip install "rnnlm-fast[mpi]"' in err


def test_a_launched_process_without_distributed_is_refused(tmp_path, monkeypatch, capsys):
    """N copies of a plain run would each train alone and overwrite one another's files."""
    path = write_corpus(tmp_path / "c.txt", 30)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "0")
    rc = main(["train", "--train", str(path), "--valid", str(path), "--output", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 2 and "rank 0 of 2 started by an MPI launcher: pass --distributed" in err
    assert not (tmp_path / "m").exists()
