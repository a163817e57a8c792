"""Distributed training (rnnlm_fast/distributed/, csrc/epoch_run, csrc/update_marks).

In-process: an epoch run in parts equals one call, the engine marks every sparse weight it
changes, packing, BMUF's step, sharding, BMUF's slices, the install hint without mpi4py. Under
mpiexec (subprocesses, MPICH from the ``mpi`` extra; skipped without mpi4py, failed where
RNNLM_FAST_REQUIRE_MPI is set): one process equals the plain run bit for bit for every cell,
direct connections, dropout and backward models; two and three processes hold bit-identical
weights after every combination and tile the training text; BMUF's block_lr and block_momentum,
given to train() and to the command line, give the combinations NumPy replays from the run's
record; disagreeing options and a failing process end the job with one message naming the rank;
a SIGKILLed process (rank 1, rank 0 while training or writing a checkpoint, a rank's monitor)
ends it too, and the last checkpoint resumes (with another number of processes) continuing its
history, epoch numbers and learning rate; a resumed run whose time budget is spent stops on all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from corpora import write_corpus

from rnnlm_fast import RNNLM, ConfigError, Vocabulary, _core, options
from rnnlm_fast.checkpoint import load_checkpoint
from rnnlm_fast.cli import main
from rnnlm_fast.distributed.mpi import INSTALL_HINT, find_mpiexec
from rnnlm_fast.distributed.sync import WeightSync
from rnnlm_fast.distributed.trainer import shard_bounds
from rnnlm_fast.model_file import read_header
from rnnlm_fast.training import engine_options

HERE = Path(__file__).resolve().parent


# --- in-process --------------------------------------------------------------------------
@pytest.mark.parametrize("cell,direct,dropout,streams", [("sigmoid", 0, 0.0, 1), ("gru", 20000, 0.3, 1),
                                                         ("lstm", 100000, 0.0, 1), ("gru", 20000, 0.3, 4),
                                                         ("sigmoid", 100000, 0.0, 3)])
def test_an_epoch_in_parts_is_one_epoch_and_marks_every_sparse_write(
        tmp_path, cell, direct, dropout, streams):
    path = write_corpus(tmp_path / "c.txt", 120, seed=2)
    vocab = Vocabulary.from_corpus(path, classes=5)
    one, parts = (RNNLM(vocab, hidden=8, cell=cell, seed=1, direct=direct, direct_order=3) for _ in range(2))
    enc = one.encode_file(path)
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
    # Every changed embedding row, word-class row and direct weight is marked.
    m, V, C = marks.array(), marks.embed_rows, marks.classes
    w = parts.weights()
    changed_rows = np.flatnonzero((w["embed"] != before["embed"]).any(axis=1))
    assert changed_rows.size and m[changed_rows].all()
    changed_words = np.flatnonzero((w["word_w"] != before["word_w"]).any(axis=1)
                                   | (w["word_b"] != before["word_b"]))
    assert m[V + vocab.word_class[changed_words]].all()
    if direct:
        changed = np.flatnonzero(w["direct"] != before["direct"])
        assert changed.size and m[V + C + changed // _core.DIRECT_BLOCK].all()
        assert not m[V + C:].all()  # and not everything
    marks.clear()
    assert not marks.array().any()


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


# --- under mpiexec -------------------------------------------------------------------------
def _mpiexec() -> str:
    """MPICH's mpiexec; without the mpi extra the test skips, but fails where RNNLM_FAST_REQUIRE_MPI
    is set (CI's stages, .ci/run and scripts/check_wheel.sh, install the extra: nothing may skip)."""
    required = bool(os.environ.get("RNNLM_FAST_REQUIRE_MPI"))
    if required:
        import mpi4py  # noqa: F401 - an ImportError fails the test
    found = find_mpiexec()
    if found is None:
        (pytest.fail if required else pytest.skip)(f"mpi4py or mpiexec not found: {INSTALL_HINT}")
    return found


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("mpi")
    write_corpus(d / "train.txt", 150, seed=0)
    write_corpus(d / "valid.txt", 30, seed=1)
    return d


def run_worker(n: int, mode: str, d: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([_mpiexec(), "-n", str(n), sys.executable, str(HERE / "mpi_worker.py"),
                           mode, str(d)], capture_output=True, text=True, timeout=timeout)


def results(d: Path, mode: str, n: int) -> list[dict]:
    return [json.loads((d / f"{mode}.rank{r}.json").read_text()) for r in range(n)]


def test_one_process_equals_the_plain_run_bit_for_bit(data):
    proc = run_worker(1, "equal", data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cases = results(data, "equal", 1)[0]["cases"]
    assert len(cases) == 6 and all(c["same"] and c["history"] for c in cases), cases


@pytest.mark.parametrize("n", [2, 3])
def test_every_process_holds_the_same_weights_after_every_combination(data, n):
    """And every training line is trained on once per epoch, by one process (3 processes on
    2 cores: MPICH oversubscribes)."""
    proc = run_worker(n, "syncs", data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = results(data, "syncs", n)
    total = int(read_positions(data / "train.txt"))
    for i, case in enumerate(ranks[0]["cases"]):
        per_rank = [r["cases"][i] for r in ranks]
        assert len(case["sums"]) == 2 * case["parts"] >= 4, case  # two epochs of blocks
        # every rank trained its shard, each epoch
        assert all(r["trained"] == [r["positions"]] * 2 for r in per_rank), case["case"]
        for other in per_rank[1:]:
            assert other["sums"] == case["sums"], (case["case"], other["sums"], case["sums"])
            assert other["valid_ppl"] == case["valid_ppl"]
        shards = [tuple(r["shard"]) for r in per_rank]
        assert shards[0][0] == 0 and all(a[1] == b[0] for a, b in zip(shards, shards[1:]))
        assert shards[-1][1] == 150 and sum(r["positions"] for r in per_rank) == total
        assert all(np.isfinite(case["valid_ppl"]))


@pytest.mark.parametrize("n", [2, 3])
def test_a_combination_is_numpy_s_average_and_block_momentum_step(data, n):
    """Random changes to random blocks of every array (LSTM, direct table) on each process:
    after each combination every process holds NumPy's average of all the processes' weights
    (BMUF: its step from that average), bit for bit with 2 processes (3 sum in another order)."""
    proc = run_worker(n, "combine", data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for ranks in zip(*(r["cases"] for r in results(data, "combine", n))):
        for case in ranks:
            assert case["worst"] < 1e-6, case
            assert case["exact"] or n == 3, case


def replay(directory: Path, momentum: float, block_lr: float) -> tuple[int, bool]:
    """NumPy's replay of the combinations two processes recorded (mpi_cli.record_combinations):
    from each process's weights and marks before a combination, the average of the marked
    blocks, then BMUF's step on them with ``momentum`` and ``block_lr`` (the direct table
    averaged only), the start and momentum carried from one combination to the next within an
    epoch. Returns (combinations replayed, whether every process's weights after every one are
    the replay's, bit for bit)."""
    def number(path: Path) -> int:
        return int(path.name.split(".")[1])

    files = [sorted(directory.glob(f"rank{r}.*.npz"), key=number) for r in (0, 1)]
    assert len(files[0]) == len(files[1]) > 0, files
    mom, lr, half = np.float32(momentum), np.float32(block_lr), np.float32(0.5)
    start: dict = {}
    delta: dict = {}
    combinations, exact = 0, True
    for recs in ([np.load(f) for f in pair] for pair in zip(*files)):
        names = [k[len("after."):] for k in recs[0].files if k.startswith("after.")]
        assert all(np.array_equal(recs[0][f"after.{k}"], recs[1][f"after.{k}"]) for k in names)
        if str(recs[0]["kind"]) == "begin":  # the epoch's starting point, no momentum yet
            start = {k: recs[0][f"after.{k}"].astype(np.float32) for k in names}
            delta = {k: np.zeros_like(v) for k, v in start.items()}
            continue
        last, sizes = bool(recs[0]["last"]), recs[0]["class_sizes"]
        embed = recs[0]["before.embed"]
        V, C = embed.shape[0], len(sizes)
        word_class = np.repeat(np.arange(C), sizes)
        flags = recs[0]["marks"].astype(bool) | recs[1]["marks"].astype(bool)
        marked = {"embed": np.repeat(flags[:V], embed.shape[1]).reshape(embed.shape),
                  "word_w": np.repeat(flags[V:V + C][word_class], embed.shape[1]).reshape(-1, embed.shape[1]),
                  "word_b": flags[V:V + C][word_class]}
        if "direct" in names:
            marked["direct"] = np.repeat(flags[V + C:], _core.DIRECT_BLOCK)[:recs[0]["before.direct"].size]
        for k in names:
            before = [rec[f"before.{k}"] for rec in recs]
            m = marked.get(k, np.ones(before[0].shape, dtype=bool)).reshape(before[0].shape)
            average = (before[0] + before[1]) * half
            if k == "direct":
                want = np.where(m, average, before[0])
            else:
                delta[k] = np.where(m, mom * delta[k] + lr * (average - start[k]), delta[k])
                want = np.where(m, start[k] + delta[k], before[0])
                if not last:  # the next block starts from the look-ahead
                    want = start[k] = np.where(m, want + mom * delta[k], start[k])
            exact = exact and all(np.array_equal(rec[f"after.{k}"], want) for rec in recs)
        combinations += 1
    return combinations, exact


def test_bmuf_options_given_to_train_are_the_combinations_numpy_replays(data):
    """block_lr 0.7 and block_momentum 0.3 (not the defaults 1 and 1 - 1/2) through
    RNNLM.train(comm=...): every combination of the run is NumPy's replay of its inputs with them,
    bit for bit, and not the replay with the defaults."""
    proc = run_worker(2, "bmuf", data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    combinations, exact = replay(data / "bmuf.train", 0.3, 0.7)
    assert combinations >= 6 and exact
    assert not replay(data / "bmuf.train", 0.5, 1.0)[1]


def test_bmuf_options_given_to_the_command_line_are_the_combinations_numpy_replays(tmp_path):
    """The same through ``rnnlm-fast train --distributed --block-lr 0.7 --block-momentum 0.3``."""
    mpiexec = _mpiexec()
    train, valid = write_corpus(tmp_path / "train.txt", 150), write_corpus(tmp_path / "valid.txt", 30, seed=1)
    args = ["train", "--train", str(train), "--valid", str(valid), "--output", str(tmp_path / "m.rnnlm"),
            "--distributed", "--quiet", "--hidden", "8", "--classes", "4", "--direct", "300",
            "--direct-order", "3", "--max-epochs", "2", "--min-improvement", "1", "--bptt", "3",
            "--bptt-block", "5", "--threads", "1", "--sync", "bmuf", "--sync-words", "60",
            "--block-lr", "0.7", "--block-momentum", "0.3"]
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, str(HERE / "mpi_cli.py"), "record",
                           str(tmp_path / "log"), "--", *args], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    combinations, exact = replay(tmp_path / "log", 0.3, 0.7)
    assert combinations >= 6 and exact
    assert not replay(tmp_path / "log", 0.5, 1.0)[1]
    assert len(RNNLM.load(tmp_path / "m.rnnlm").history) == 2


def test_a_distributed_run_resumed_with_its_budget_spent_stops_at_once_on_every_process(data):
    """The budget is checked before an epoch from the schedule rank 0 sent: every process stops
    together (none waits for the others in an epoch they do not start)."""
    from helpers import stopped_run
    from test_model_file import rewrite_header

    from rnnlm_fast.model_file import read_model

    train, valid, ckpt = data / "train.txt", data / "valid.txt", data / "budget.ckpt"
    model = RNNLM(Vocabulary.from_corpus(train, classes=4), hidden=8, seed=3)
    stopped_run(model, train, valid, ckpt, 2, time_budget=3600.0)

    def spent(header):
        header["checkpoint"]["schedule"]["elapsed"] = 3600.0

    ckpt.write_bytes(rewrite_header(ckpt.read_bytes(), spent))
    proc = run_worker(2, "budget", data, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["epochs"] for r in results(data, "budget", 2)] == [[1, 2], [1, 2]]
    sched = read_model(ckpt)[0]["checkpoint"]["schedule"]
    assert sched["stop_reason"] == "time budget: spent before the epoch started" and sched["epoch"] == 2


def test_shards_follow_the_processes_threads(data):
    """A process with 2 threads trains on twice the text of one with 1 (both end their blocks
    together); every line is still trained once per epoch and the weights stay the same."""
    proc = run_worker(2, "shards", data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = results(data, "shards", 2)
    total = int(read_positions(data / "train.txt"))
    assert ranks[0]["cases"][0]["sums"] == ranks[1]["cases"][0]["sums"]
    trained = [r["cases"][0]["trained"] for r in ranks]
    assert [a + b for a, b in zip(*trained)] == [total] * 2, trained
    assert 1.7 < trained[0][0] / trained[1][0] < 2.3, trained  # 2 threads : 1


def read_positions(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return sum(len(line.split()) + 1 for line in lines)


def test_processes_that_disagree_on_an_option_all_refuse_to_start(data):
    proc = run_worker(2, "disagree", data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = [r.get("error") for r in results(data, "disagree", 2)]
    assert errors[0] == errors[1] and "rank 1 has lr=0.2 but rank 0 has 0.1" in errors[0]


def test_an_error_in_one_process_ends_the_job_with_one_message(data):
    start = time.monotonic()
    proc = run_worker(2, "fail", data, timeout=120)
    assert proc.returncode != 0 and time.monotonic() - start < 60
    ours = [line for line in proc.stderr.splitlines() if line.startswith("rnnlm-fast: error:")]
    assert (len(ours) == 1 and "rank 1 of 2" in ours[0]
            and "RuntimeError: injected failure" in ours[0]), proc.stderr


def test_a_process_that_stops_answering_ends_the_job_by_the_watchdog(data):
    # Once in a full CI run the job ended with nothing at all on stderr (a launch that failed
    # before any rank ran our code, on a loaded 2-core machine); such a run says nothing about
    # the watchdog, so it is tried once more. A run that reports must report this one line.
    for attempt in range(2):
        start = time.monotonic()
        proc = run_worker(2, "hang", data, timeout=120)
        assert proc.returncode != 0 and time.monotonic() - start < 50, (
            proc.stdout[-2000:] + proc.stderr[-2000:])
        ours = [line for line in proc.stderr.splitlines() if line.startswith("rnnlm-fast: error:")]
        if ours or proc.stderr.strip() or attempt == 1:
            break
    assert len(ours) == 1 and "rank 0 of 2" in ours[0] and "waited 2 s for the other processes" in ours[0], \
        f"rc {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"


def _workers_of_rank(root: int, rank: int) -> list[int]:
    """The training processes (the monitor's children) of one rank below process ``root``."""
    def children(pid: int) -> list[int]:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []

    def rank_of(pid: int) -> str:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return ""
        return next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"PMI_RANK=")), "")

    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = children(pid)
        todo += kids
        if rank_of(pid) == str(rank) and any(rank_of(k) == str(rank) for k in kids):
            found += [k for k in kids if rank_of(k) == str(rank)]
    return found


# A run whose schedule changes before the kill: every epoch after the first gains less than the
# (huge) min_improvement, 25 such epochs are tolerated, so the rate halves from epoch 28 on and the
# run stops at epoch 53. A resumed run that started its schedule afresh would renumber the epochs
# from 1, lose the history and train at 0.1 again.
KILLED_RUN = ["--hidden", "16", "--classes", "4", "--max-epochs", "60", "--min-improvement", "10",
              "--patience", "25", "--sync-words", "300"]


def _wait_for_checkpoint(job: subprocess.Popen, ckpt: Path, epoch: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and job.poll() is None:
        try:
            if read_header(ckpt)["checkpoint"]["schedule"]["epoch"] >= epoch:
                return
        except Exception:  # not written yet, or being replaced
            pass
        time.sleep(0.02)


def _history(header: dict) -> list[tuple]:
    return [(r["epoch"], r["lr"], r["valid_entropy"], r["kept"]) for r in header["history"]]


def assert_resumed_from(model: RNNLM, header: dict) -> None:
    """``model``'s history continues the checkpoint ``header``'s: the same records, then the epoch
    after the checkpoint's at the checkpoint's learning rate, and onwards to the schedule's stop."""
    sched = header["checkpoint"]["schedule"]
    before = _history(header)
    assert len(before) == sched["epoch"] >= 28 and sched["lr"] < 0.1, sched  # the halving had begun
    got = [(r.epoch, r.lr, r.valid_entropy, r.kept) for r in model.history]
    assert got[:len(before)] == before
    first = model.history[len(before)]
    assert first.epoch == sched["epoch"] + 1 and first.lr == sched["lr"]
    assert [r.epoch for r in model.history] == list(range(1, 54))  # the patience runs out at epoch 53
    resumed_lrs = [r.lr for r in model.history[len(before):]]
    assert resumed_lrs == [sched["lr"] / 2**i for i in range(53 - len(before))]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the rank monitor and /proc are Linux's")
def test_a_killed_process_ends_the_job_and_the_checkpoint_resumes_with_three(tmp_path):
    mpiexec = _mpiexec()
    train, valid = (write_corpus(tmp_path / "train.txt", 400, seed=0),
                    write_corpus(tmp_path / "valid.txt", 40, seed=1))
    out, ckpt = tmp_path / "m.rnnlm", tmp_path / "m.rnnlm.ckpt"
    cli = [sys.executable, "-m", "rnnlm_fast.cli", "train", "--train", str(train), "--valid", str(valid),
           "--output", str(out), "--distributed", "--quiet"]
    job = subprocess.Popen([mpiexec, "-n", "2", *cli, *KILLED_RUN],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_checkpoint(job, ckpt, 28)
        victims = _workers_of_rank(job.pid, 1)
        assert job.poll() is None and len(victims) == 1, "the run ended before it could be killed"
        killed_at = time.monotonic()
        os.kill(victims[0], signal.SIGKILL)
        _, err = job.communicate(timeout=90)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0 and time.monotonic() - killed_at < 60
    ours = [line for line in err.splitlines() if line.startswith("rnnlm-fast: error:")]
    assert len(ours) == 1, err
    assert ("rank 1 of 2" in ours[0] and "SIGKILL" in ours[0] and "--resume" in ours[0]
            and str(ckpt) in ours[0])
    assert not out.exists() and ckpt.exists()
    header = read_header(ckpt)
    done = subprocess.run([mpiexec, "-n", "3", *cli, "--resume"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    model = RNNLM.load(out)
    assert not ckpt.exists() and not list(tmp_path.glob(".*.tmp"))  # a write cut short is removed on resume
    assert_resumed_from(model, header)
    assert min(r.valid_ppl for r in model.history) < model.history[0].valid_ppl


def _processes_of(directory: Path) -> list[str]:
    """Command lines of the running processes that name ``directory`` (a job's leftovers)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(directory) in cmdline and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline}")
    return found


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the rank monitor and /proc are Linux's")
@pytest.mark.parametrize("victim", ["rank 0", "rank 0 writing", "monitor 0", "monitor 1"])
def test_rank_0_or_a_monitor_killed_ends_the_job_and_the_last_checkpoint_resumes(tmp_path, victim):
    """SIGKILL to rank 0's training process (the checkpoint writer: while it trains, and while it
    writes the checkpoint of epoch 29, its temporary file half written) or to a rank's monitor
    (the launcher's own process, parent of the training one): the job ends within 60 s with one
    line and leaves no process behind; the last complete checkpoint loads, and --resume continues
    it (removing the cut-short temporary file)."""
    mpiexec = _mpiexec()
    train, valid = write_corpus(tmp_path / "train.txt", 400), write_corpus(tmp_path / "valid.txt", 40, seed=1)
    out, ckpt = tmp_path / "m.rnnlm", tmp_path / "m.rnnlm.ckpt"
    args = ["train", "--train", str(train), "--valid", str(valid), "--output", str(out), "--distributed",
            "--quiet"]
    hook = ["stall-write", "29"] if victim == "rank 0 writing" else ["none", ""]
    job = subprocess.Popen([mpiexec, "-n", "2", sys.executable, str(HERE / "mpi_cli.py"), *hook, "--", *args,
                            *KILLED_RUN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if victim == "rank 0 writing":
            stalled = Path(f"{ckpt}.stalled")
            deadline = time.monotonic() + 120
            while not stalled.exists() and job.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert stalled.exists(), "the checkpoint write did not stall"
            temporary = Path(stalled.read_text().strip())
        else:
            _wait_for_checkpoint(job, ckpt, 28)
        workers = _workers_of_rank(job.pid, int(victim[-1]) if victim.startswith("monitor") else 0)
        assert job.poll() is None and len(workers) == 1, "the run ended before it could be killed"
        killed_at = time.monotonic()
        os.kill(_parent(workers[0]) if victim.startswith("monitor") else workers[0], signal.SIGKILL)
        stdout, err = job.communicate(timeout=90)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0 and time.monotonic() - killed_at < 60
    time.sleep(0.5)
    assert _processes_of(tmp_path) == []
    ours = [line for line in err.splitlines() if line.startswith("rnnlm-fast: error:")]
    if victim.startswith("rank 0"):
        assert len(ours) == 1, err
        assert all(part in ours[0] for part in ("rank 0 of 2", "SIGKILL", "--resume", str(ckpt))), ours
    else:  # MPICH's launcher SIGKILLs the other monitors at once (their training processes die with them)
        assert ours == [], err
        assert stdout.count("YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)") == 1, \
            stdout
    assert not out.exists()
    header = read_header(ckpt)
    _, state = load_checkpoint(RNNLM, ckpt)
    if victim == "rank 0 writing":  # the last complete checkpoint: epoch 28's; epoch 29's was cut short
        assert state.schedule["epoch"] == 28 and temporary.name.startswith(".m.rnnlm.ckpt.")
        assert temporary.exists() and 0 < temporary.stat().st_size < ckpt.stat().st_size
    cli = [sys.executable, "-m", "rnnlm_fast.cli", *args]
    done = subprocess.run([mpiexec, "-n", "2", *cli, "--resume"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not ckpt.exists() and not list(tmp_path.glob(".*.tmp"))
    assert_resumed_from(RNNLM.load(out), header)
