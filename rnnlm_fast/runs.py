"""A training run as ``rnnlm-fast train`` asks for it: one resolved :class:`TrainRequest` (the
command line's paths and options, checked there), run on this process or as this process's
part of an MPI job, and its results written.

The flow goes down: the request -> the vocabulary and the model (rnnlm_fast.model) -> their
training (rnnlm_fast.training, which picks the one-process or the distributed trainer) -> the
model file, the history, the checkpoint removed. Under an MPI launcher each process forks a
watcher first (rnnlm_fast/distributed/launch.py); rank 0 then runs the request as one process
would, the others follow its model, options and schedule (rnnlm_fast/distributed/trainer.py).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from . import options
from ._files import check_output
from .errors import ConfigError, MissingFileError
from .model import RNNLM
from .model_file import read_header
from .options import OPTIONS
from .training import EpochRecord
from .vocab import Vocabulary

log = logging.getLogger("rnnlm_fast")


@dataclass(frozen=True)
class TrainRequest:
    """What to train and where its results go, the defaults resolved (the command line's).

    ``checkpoint``: None for no checkpoint; ``history``: the per-epoch history's JSON file, if
    wanted; ``overwrite``: replace existing outputs (and start over despite a checkpoint);
    ``resume``: continue the run of ``checkpoint`` (its model, vocabulary and options;
    ``training["threads"]`` None keeps its thread count), refusing the run options in
    ``explicit`` (flag's name -> value given) that differ from its own. ``vocab_file``: a
    vocabulary file to use instead of counting ``train`` (re-classed when ``reclass``);
    ``vocabulary``, ``model``, ``training``: the options of those groups. ``distributed``: one
    process of an MPI job. :func:`check_paths` holds the rules of the paths.
    """

    train: str
    valid: str
    output: Path
    checkpoint: Path | None
    history: Path | None
    overwrite: bool
    resume: bool
    explicit: dict[str, Any]
    vocab_file: str | None
    reclass: bool
    vocabulary: dict[str, Any]
    model: dict[str, Any]
    training: dict[str, Any]
    distributed: bool = False
    progress: bool = True


Report = Optional[Callable[[EpochRecord], None]]


def run(request: TrainRequest, report: Report = None) -> int:
    """Run ``request`` (``report`` is called with every epoch's record); returns the exit status:
    0, or 130 after Ctrl-C (the message says how to continue)."""
    from .distributed.mpi import launched

    if request.distributed or launched():
        return _run_job(request, report)
    return _run_here(request, None, report)


def check_paths(request: TrainRequest) -> None:
    """The rules of the request's paths, checked by the process that writes them before any
    work: each writable, none the same file as another; an existing model, history or
    checkpoint replaced only with ``overwrite`` (a checkpoint is continued with ``resume``,
    which needs it); with ``resume``, the options given must be the checkpoint's."""
    r, ckpt = request, request.checkpoint
    out = check_output(r.output)
    if ckpt is not None and check_output(ckpt).resolve() == out.resolve():
        raise ConfigError(f"--checkpoint and --output are the same file '{out}'")
    if r.resume and ckpt is None:
        raise ConfigError("--resume continues from the checkpoint; it cannot be combined with "
                          "--no-checkpoint")
    check_output(out, overwrite=r.overwrite)
    if r.history is not None:
        # a resumed run rewrites the history its interrupted part began, now complete
        check_output(r.history, "--history-json", overwrite=r.overwrite or r.resume)
        if r.history.resolve() in (out.resolve(), None if ckpt is None else ckpt.resolve()):
            raise ConfigError(f"--history-json '{r.history}' is the same file as the model or its checkpoint")
    if r.resume and not ckpt.exists():
        raise MissingFileError(f"--resume: checkpoint '{ckpt}' does not exist (nothing to continue)")
    if ckpt is not None and ckpt.exists() and not r.resume and not r.overwrite:
        raise ConfigError(f"checkpoint '{ckpt}' exists: pass --resume to continue that run, "
                          "or --overwrite to start over")
    if r.resume:
        check_resume_options(ckpt, r.explicit)


def check_resume_options(ckpt: Path, explicit: dict[str, Any]) -> None:
    """Refuse run options given with --resume that differ from the checkpoint's (or that it
    cannot honour: the vocabulary comes from the checkpoint). ``explicit``: dest -> value."""
    header = read_header(ckpt)
    stored = {**{o.name: o.default for o in OPTIONS.values() if o.older_files_lack},  # older files lack them
              **dict(header.get("config") or {}),
              **options.from_file((header.get("checkpoint") or {}).get("options") or {})}
    for dest, value in explicit.items():
        flag = OPTIONS[dest].flag if dest in OPTIONS else "--" + dest.replace("_", "-")
        drop = f"(drop {flag}, or start over with --overwrite)"
        if dest not in stored:
            raise ConfigError(f"{flag} cannot be given with --resume: the run continues with the vocabulary "
                              f"and options of checkpoint '{ckpt}' {drop}")
        if stored[dest] != value:
            if isinstance(value, bool):
                raise ConfigError(f"{flag} given, but the run of checkpoint '{ckpt}' was without it: "
                                  f"--resume continues that run with its own options {drop}")
            raise ConfigError(f"{flag} {value} differs from checkpoint '{ckpt}' ({stored[dest]}): --resume "
                              f"continues that run with its own options {drop}")


def _run_here(request: TrainRequest, comm: Any, report: Report) -> int:
    """The run on this process (with ``comm``: as rank 0 of an MPI job, or following it)."""
    ckpt, writes = request.checkpoint, comm is None or comm.Get_rank() == 0
    if writes:
        check_paths(request)
    before, clock = _file_stamp(ckpt), {"start": time.perf_counter()}
    try:
        model = _train(request, comm, report, clock)
    except KeyboardInterrupt:
        if not writes:
            raise
        if request.resume:
            print(f"interrupted: rerun with --resume to continue from '{ckpt}'", file=sys.stderr)
            return 130
        # The run writes its checkpoint once the data is read: stopped before that (or with
        # no checkpoint), there is nothing to resume.
        written = ckpt is not None and _file_stamp(ckpt) not in (None, before)
        hint = f"rerun with --resume to continue from '{ckpt}'" if written else "rerun to train"
        print(f"interrupted: the model with the last good weights is not saved over anything; {hint}",
              file=sys.stderr)
        return 130
    if model is None:  # a process following rank 0: rank 0 writes
        return 0
    model.save(request.output)
    if ckpt is not None:
        ckpt.unlink(missing_ok=True)
    print(f"trained {len(model.history)} epochs in {time.perf_counter() - clock['start']:.1f} s -> "
          f"{request.output}")
    if request.history is not None:
        request.history.write_text(json.dumps([vars(r) for r in model.history], indent=1))
    return 0


def _train(request: TrainRequest, comm: Any, report: Report, clock: dict[str, float]) -> RNNLM | None:
    """The trained model (None on the processes that follow rank 0); ``clock["start"]``: when
    training began (after the vocabulary)."""
    r = request
    if r.resume:  # model, vocabulary and options come from the checkpoint
        model = RNNLM.resume(r.checkpoint, r.train, r.valid, threads=r.training["threads"],
                             progress=r.progress, callback=report, comm=comm)
        if comm is not None and comm.Get_rank() != 0:
            return None
        log.info("resumed %s from %s after %d epoch records", model, r.checkpoint, len(model.history))
        return model
    if comm is not None and comm.Get_rank() != 0:  # rank 0's model, options and schedule
        from .distributed import DistributedTrainer

        values = options.resolve(options.TRAINING, r.training)
        DistributedTrainer(None, r.train, r.valid, values, comm, model_class=RNNLM, progress=False).run()
        return None
    model = RNNLM(_vocabulary(r), **r.model)
    log.info("model: %s, %d parameters", model, model.n_parameters())
    clock["start"] = time.perf_counter()
    model.train(r.train, r.valid, progress=r.progress, callback=report, checkpoint=r.checkpoint, comm=comm,
                **r.training)
    return model


def _vocabulary(request: TrainRequest) -> Vocabulary:
    v = request.vocabulary
    if request.vocab_file:
        vocab = Vocabulary.load(request.vocab_file)
        if request.reclass and v["classes"] != vocab.n_classes:
            vocab = vocab.with_classes(v["classes"], v["class_method"])
        return vocab
    return Vocabulary.from_corpus(request.train, progress=request.progress, **v)


def _file_stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What tells one version of a file from the next (an atomic rename makes a new inode)."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return None if st is None else (st.st_ino, st.st_mtime_ns, st.st_size)


# --- one process of an MPI job ------------------------------------------------------------

def _run_job(request: TrainRequest, report: Report) -> int:
    """This process's part of ``mpiexec -n N rnnlm-fast train ... --distributed``: a watching
    parent (launch.py) and the MPI process, in which every error ends the whole job, once."""
    from .distributed import launch
    from .distributed.mpi import AGREED, abort, describe, is_agreed, launched, mpi, status, who

    if not request.distributed:
        rank, size = launched() or (0, 1)
        if rank != 0:  # every process meets this: rank 0 says it
            raise SystemExit(2)
        raise ConfigError(f"this process is rank {rank} of {size} started by an MPI launcher: pass "
                          "--distributed to train one model together, or start a single process")
    watched = launch.supervise(request.checkpoint)
    if watched is not None:  # the watching parent: the child's exit status
        return watched
    comm = mpi().COMM_WORLD
    status(f"started {who(comm)}")
    lead = comm.Get_rank() == 0
    try:
        _agree_on_command(comm)
        rc = _run_here(request, comm, report if lead else None)
    except BaseException as e:  # noqa: BLE001 - every error ends the job, once
        interrupted = isinstance(e, KeyboardInterrupt)
        if not is_agreed(e):
            abort(comm, "interrupted" if interrupted else describe(e), 130 if interrupted else 2)
        if lead:
            print("rnnlm-fast: interrupted; rerun the same command with --resume to continue from the "
                  "checkpoint" if interrupted else f"rnnlm-fast: error: {describe(e)}", file=sys.stderr)
        rc = 130 if interrupted else 2
    else:
        if rc != 0 and lead and not AGREED.get("seen"):
            abort(comm, None, rc, delay=False)  # rank 0 stopped alone (its message is out): stop the rest
    status("finished")
    return rc


def _agree_on_command(comm: Any) -> None:
    """Every process was started with the same command line (--threads aside), or all raise."""
    from .distributed.mpi import agreed

    argv, skip = [], False
    for a in sys.argv[1:]:
        if not skip and not a.startswith("--threads"):
            argv.append(a)
        skip = a == "--threads"
    everyone = comm.allgather(argv)
    for rank, theirs in enumerate(everyone):
        if theirs != everyone[0]:
            raise agreed(ConfigError(f"rank {rank} was started with another command line than rank 0: "
                                     f"{' '.join(theirs)!r} vs {' '.join(everyone[0])!r}"))
