"""ESPnet2 ``asr_inference`` n-best output: ``logdir/output.K/<N>best_recog/{text,score}``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from rnnlm_fast.errors import MissingFileError

from . import _io
from .lists import AM, Hypothesis, NbestList
from .text import read_text_lines

__all__ = ["read_espnet_nbest", "write_espnet_nbest"]

NBEST_DIR = re.compile(r"^(\d+)best_recog$")
OUTPUT_DIR = re.compile(r"^output\.(\d+)$")
_TENSOR = re.compile(r"^tensor\(\s*([^,()\s]+)\s*(?:,[^()]*)?\)$")


def looks_like_espnet(directory: Path) -> bool:
    """Whether ``directory`` holds ``logdir``, ``output.K`` or ``<N>best_recog`` directories."""
    subdirs = [p.name for p in directory.iterdir() if p.is_dir()]
    return (directory / "logdir").is_dir() or any(OUTPUT_DIR.match(n) or NBEST_DIR.match(n) for n in subdirs)


def _jobs(set_dir: Path) -> list[Path]:
    """The ``output.K`` job directories under a set directory, in K order.

    Also accepts ``logdir`` itself or a single job directory.
    """
    for base in (set_dir / "logdir", set_dir):
        if not base.is_dir():
            continue
        jobs = {int(m.group(1)): p for p in base.iterdir() if p.is_dir() and (m := OUTPUT_DIR.match(p.name))}
        if jobs:
            return [jobs[k] for k in sorted(jobs)]
    if any(NBEST_DIR.match(p.name) for p in set_dir.iterdir() if p.is_dir()):
        return [set_dir]
    raise MissingFileError(f"{set_dir}: no ESPnet n-best output (expected logdir/output.K/Nbest_recog/)")


def _read_rank(rank_dir: Path) -> dict[str, tuple[str, float]]:
    """Read one ``Nbest_recog`` directory: utt -> (text, score)."""
    text_path, score_path = rank_dir / "text", rank_dir / "score"
    texts = read_text_lines(text_path)

    def parse_score(utt: str, token: str, lineno: int) -> float:
        m = _TENSOR.match(token)
        return _io.parse_float(m.group(1) if m else token, score_path, lineno, "a score 'tensor(X)' or X")

    scores = _io.read_keyed(
        score_path, "'<utt-id> tensor(<score>)'", parse_score, value="rest", key_name="utterance"
    )
    _io.check_same_keys(text_path, texts, score_path, scores)
    return {utt: (words, scores[utt][0]) for utt, (words, _) in texts.items()}


def read_espnet_nbest(set_dir: str | Path) -> list[NbestList]:
    """Read ESPnet2 ``asr_inference`` n-best output of one set.

    Walks ``<set_dir>/logdir/output.K/Nbest_recog/{text,score}`` for every job K. Scores
    (``tensor(-8.7506)`` or a bare float) are natural logs already; they become ``"am"``.

    Parameters
    ----------
    set_dir : str or Path
        ``inference/<set>`` (also accepted: its ``logdir`` or one ``output.K``).

    Raises
    ------
    MissingFileError
        If the directory or a ``text``/``score`` file is missing.
    NbestFormatError
        On a malformed line, text/score keys that differ, or an utterance in two jobs.
    """
    set_dir = Path(set_dir)
    _io.require_dir(set_dir)
    builder = _io.ListBuilder()
    job_of: dict[str, Path] = {}
    for job in _jobs(set_dir):
        rank_dirs = sorted(
            (int(m.group(1)), p) for p in job.iterdir() if p.is_dir() and (m := NBEST_DIR.match(p.name))
        )
        if not rank_dirs:
            raise MissingFileError(f"{job}: no Nbest_recog directories")
        for rank, rank_dir in rank_dirs:
            for utt, (text, score) in _read_rank(rank_dir).items():
                owner = job_of.setdefault(utt, job)
                if owner != job:
                    raise _io.error(rank_dir / "text", None, f"utterance {utt!r} also decoded in {owner}")
                builder.add(utt, Hypothesis(text, {AM: score}, rank))
    return builder.finish()


def write_espnet_nbest(set_dir: str | Path, lists: Sequence[NbestList]) -> None:
    """Write lists in ESPnet2 layout as one job: ``logdir/output.1/Nbest_recog/{text,score}``.

    The ``"am"`` score is written as ``tensor(<score>)`` at full precision; the merged
    1-best ``text`` and ``score`` files are written into ``set_dir`` as ESPnet does.

    Raises
    ------
    ValueError
        If an utterance id is empty or has whitespace, or a text has a newline.
    """
    set_dir = Path(set_dir)
    job = set_dir / "logdir" / "output.1"
    by_rank: dict[int, list[tuple[str, Hypothesis]]] = {}
    for nbest in lists:
        _io.check_utt_id(nbest.utt_id)
        for hyp in nbest.hyps:
            _io.check_text(hyp.text, nbest.utt_id)
            by_rank.setdefault(hyp.rank, []).append((nbest.utt_id, hyp))
    for rank, entries in sorted(by_rank.items()):
        _write_pair(job / f"{rank}best_recog", entries)
    _write_pair(set_dir, by_rank.get(1, []))


def _write_pair(directory: Path, entries: list[tuple[str, Hypothesis]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (
        open(directory / "text", "w", encoding="utf-8") as ft,
        open(directory / "score", "w", encoding="utf-8") as fs,
    ):
        for utt, hyp in entries:
            ft.write(_io.id_line(utt, hyp.text))
            fs.write(f"{utt} tensor({_io.fmt_float(hyp.scores.get(AM, 0.0))})\n")
