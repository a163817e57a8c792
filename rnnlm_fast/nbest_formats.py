"""N-best list data model, readers and writers.

Formats: rnnlm-0.4b ``-nbest`` text, Kaldi (``text`` + ``acwt`` + ``lmwt``), ESPnet2
``Nbest_recog`` directories, SRILM (``NBestList1.0``, ``NBestList2.0`` and the plain
``ascore lscore nwords words`` format) and a plain TSV.

Every score held in memory is a NATURAL-LOG probability, higher is better. Each reader
converts from its file's convention and each writer converts back, so a write -> read
round trip keeps scores to ~1e-6 (SRILM's bytelog formats are integer, see
``write_srilm``). Score keys used by the readers:

``"am"``
    acoustic or first-pass score (for ESPnet the beam-search total, for SRILM
    NBestList1.0 the composite recogniser score, as SRILM itself treats it).
``"lm"``
    the first-pass language-model score, where the file has one.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rnnlm_fast.errors import MissingFileError, NbestFormatError

__all__ = [
    "FORMATS",
    "Hypothesis",
    "NbestList",
    "SrilmStyle",
    "bytelog_to_ln",
    "ln_to_bytelog",
    "read_espnet_nbest",
    "read_kaldi_nbest",
    "read_nbest",
    "read_rnnlm_nbest",
    "read_srilm_nbest",
    "read_text",
    "read_tsv_nbest",
    "write_espnet_nbest",
    "write_kaldi_nbest",
    "write_rnnlm_nbest",
    "write_srilm_nbest",
    "write_text",
    "write_tsv_nbest",
]

AM = "am"
LM = "lm"
LN10 = math.log(10.0)
# SRILM Prob.h: bytelog = rint(ln(p) * 10000.5 / 1024) (log base 1.0001, shifted by 10 bits).
_BYTELOG_PER_NAT = 10000.5 / 1024.0

FORMATS = ("rnnlm", "kaldi", "espnet", "srilm", "tsv")
SrilmStyle = Literal["NBestList1.0", "NBestList2.0", "plain"]


@dataclass
class Hypothesis:
    """One hypothesis of an n-best list.

    Attributes
    ----------
    text : str
        The words, separated by single spaces (may be empty).
    scores : dict[str, float]
        Named natural-log scores (higher is better), e.g. ``{"am": -8.75}``.
    rank : int
        1-based position in the first-pass list.
    """

    text: str
    scores: dict[str, float] = field(default_factory=dict)
    rank: int = 1

    @property
    def words(self) -> list[str]:
        """The hypothesis split into words."""
        return self.text.split()


@dataclass
class NbestList:
    """The hypotheses of one utterance, in rank order."""

    utt_id: str
    hyps: list[Hypothesis] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.hyps)

    def best(self) -> Hypothesis:
        """The first-pass 1-best: the hypothesis with the lowest rank."""
        if not self.hyps:
            raise ValueError(f"n-best list of {self.utt_id!r} is empty")
        return min(self.hyps, key=lambda h: h.rank)


# --------------------------------------------------------------------------- helpers


def bytelog_to_ln(bytelog: float) -> float:
    """Convert an SRILM/Decipher bytelog score to a natural log."""
    return bytelog / _BYTELOG_PER_NAT


def ln_to_bytelog(ln: float) -> int:
    """Convert a natural log to the nearest integer bytelog (as SRILM does)."""
    return round(ln * _BYTELOG_PER_NAT)


def _err(path: Path | str, lineno: int | None, msg: str) -> NbestFormatError:
    where = f"{path}:{lineno}" if lineno is not None else f"{path}"
    return NbestFormatError(f"{where}: {msg}")


def _shorten(line: str, limit: int = 60) -> str:
    return repr(line if len(line) <= limit else line[:limit] + "...")


def _require_file(path: Path) -> None:
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise MissingFileError(f"{path}: n-best file {what}")


def _require_dir(path: Path) -> None:
    if not path.is_dir():
        what = "is a file, not a directory" if path.exists() else "does not exist"
        raise MissingFileError(f"{path}: n-best directory {what}")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, line without newline)``, decoding UTF-8 strictly.

    Decoding line by line lets a bad byte be reported with its line number.
    """
    _require_file(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8", errors="strict")
                except UnicodeDecodeError as e:
                    raise _err(path, lineno, f"invalid UTF-8 at byte {e.start} of the line") from None
                yield lineno, line.rstrip("\r\n")
    except (OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise MissingFileError(f"{path}: cannot open: {e.strerror}") from None
        raise _err(path, None, f"cannot read: {e}") from None


def _parse_float(token: str, path: Path, lineno: int, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise _err(path, lineno, f"expected {what} (a number) but found {token!r}") from None
    if math.isnan(value):
        raise _err(path, lineno, f"expected {what} (a number) but found NaN")
    return value


def _check_text(text: str, utt_id: str, *, tab_ok: bool = True) -> None:
    if "\n" in text or "\r" in text or (not tab_ok and "\t" in text):
        raise ValueError(f"hypothesis of {utt_id!r} contains a newline or tab: {text!r}")


def _check_utt_id(utt_id: str) -> None:
    if not utt_id or any(c.isspace() for c in utt_id):
        raise ValueError(f"utterance id must be non-empty without whitespace: {utt_id!r}")


def _fmt(x: float) -> str:
    # 17 significant digits: repr-exact round trip for float64.
    return repr(float(x))


class _ListBuilder:
    """Groups hypotheses by utterance, keeping first-appearance order."""

    def __init__(self) -> None:
        self.lists: dict[str, NbestList] = {}

    def add(self, utt_id: str, hyp: Hypothesis) -> None:
        nbest = self.lists.get(utt_id)
        if nbest is None:
            nbest = self.lists[utt_id] = NbestList(utt_id)
        nbest.hyps.append(hyp)

    def finish(self) -> list[NbestList]:
        for nbest in self.lists.values():
            nbest.hyps.sort(key=lambda h: h.rank)
        return list(self.lists.values())


# --------------------------------------------------------------------------- text files


def read_text(path: str | Path) -> dict[str, str]:
    """Read a Kaldi-style ``text`` file: ``<utt-id> <words ...>`` per line.

    Parameters
    ----------
    path : str or Path
        The file (e.g. reference transcripts). A line with only an id is an empty text.

    Returns
    -------
    dict[str, str]
        Utterance id -> words joined by single spaces, in file order.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    NbestFormatError
        On a blank line, invalid UTF-8 or a repeated utterance id.
    """
    path = Path(path)
    out: dict[str, str] = {}
    seen_at: dict[str, int] = {}
    for lineno, line in _lines(path):
        parts = line.split(maxsplit=1)
        if not parts:
            raise _err(path, lineno, f"expected '<utt-id> <words>' but found {_shorten(line)}")
        utt = parts[0]
        if utt in seen_at:
            raise _err(path, lineno, f"utterance {utt!r} repeated (first at line {seen_at[utt]})")
        seen_at[utt] = lineno
        out[utt] = " ".join(parts[1].split()) if len(parts) > 1 else ""
    return out


def write_text(path: str | Path, texts: dict[str, str]) -> None:
    """Write ``<utt-id> <words>`` lines (e.g. a 1-best output), in dict order."""
    with open(path, "w", encoding="utf-8") as f:
        for utt, text in texts.items():
            _check_utt_id(utt)
            _check_text(text, utt)
            f.write(f"{utt} {text}\n" if text else f"{utt}\n")


# --------------------------------------------------------------------------- rnnlm-0.4b


def read_rnnlm_nbest(path: str | Path) -> list[NbestList]:
    """Read rnnlm-0.4b ``-nbest`` input: ``ID w1 ... wn`` per line, no scores.

    Consecutive lines with the same ID form one list; ranks are 1, 2, ... in file order.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    NbestFormatError
        On a blank line, invalid UTF-8, or an ID that reappears after another ID.
    """
    path = Path(path)
    builder = _ListBuilder()
    ended_at: dict[str, int] = {}  # ID -> last line of its (closed) block
    current: str | None = None
    for lineno, line in _lines(path):
        parts = line.split(maxsplit=1)
        if not parts:
            raise _err(path, lineno, f"expected '<id> <words>' but found {_shorten(line)}")
        utt = parts[0]
        if utt != current:
            if utt in ended_at:
                raise _err(
                    path,
                    lineno,
                    f"id {utt!r} reappears after its list ended at line {ended_at[utt]};"
                    " hypotheses of one list must be consecutive",
                )
            if current is not None:
                ended_at[current] = lineno - 1
            current = utt
        rank = len(builder.lists[utt].hyps) + 1 if utt in builder.lists else 1
        text = " ".join(parts[1].split()) if len(parts) > 1 else ""
        builder.add(utt, Hypothesis(text, {}, rank))
    return builder.finish()


def write_rnnlm_nbest(path: str | Path, lists: Sequence[NbestList]) -> None:
    """Write rnnlm-0.4b ``-nbest`` input (``ID words`` lines, rank order; scores dropped)."""
    with open(path, "w", encoding="utf-8") as f:
        for nbest in lists:
            _check_utt_id(nbest.utt_id)
            for hyp in sorted(nbest.hyps, key=lambda h: h.rank):
                _check_text(hyp.text, nbest.utt_id)
                f.write(f"{nbest.utt_id} {hyp.text}\n" if hyp.text else f"{nbest.utt_id}\n")


# --------------------------------------------------------------------------- Kaldi

_KALDI_KEY = re.compile(r"^(.+)-(\d+)$")


def _split_kaldi_key(key: str, path: Path, lineno: int) -> tuple[str, int]:
    m = _KALDI_KEY.match(key)
    if m is None:
        raise _err(path, lineno, f"expected a key '<utt-id>-<N>' but found {key!r}")
    return m.group(1), int(m.group(2))


def _read_kaldi_costs(path: Path) -> dict[str, tuple[float, int]]:
    """``<key> <cost>`` lines -> key -> (cost, line number)."""
    out: dict[str, tuple[float, int]] = {}
    for lineno, line in _lines(path):
        parts = line.split()
        if len(parts) != 2:
            raise _err(path, lineno, f"expected '<utt-id>-<N> <cost>' but found {_shorten(line)}")
        key, token = parts
        _split_kaldi_key(key, path, lineno)
        if key in out:
            raise _err(path, lineno, f"key {key!r} repeated (first at line {out[key][1]})")
        out[key] = (_parse_float(token, path, lineno, "a cost"), lineno)
    return out


def read_kaldi_nbest(
    path: str | Path | None = None,
    *,
    text: str | Path | None = None,
    acwt: str | Path | None = None,
    lmwt: str | Path | None = None,
) -> list[NbestList]:
    """Read a Kaldi n-best: ``text``, ``acwt`` and ``lmwt`` files keyed ``<utt-id>-<N>``.

    ``acwt``/``lmwt`` hold costs (negated natural logs); they are negated into the
    ``"am"`` and ``"lm"`` scores. ``N`` (the trailing ``-N`` of the key) is the rank.

    Parameters
    ----------
    path : str or Path, optional
        A directory holding files named ``text``, ``acwt`` and ``lmwt``.
    text, acwt, lmwt : str or Path, optional
        Explicit file paths; each overrides the one in ``path``.

    Raises
    ------
    MissingFileError
        If a file does not exist.
    NbestFormatError
        On a malformed line, a repeated key, or keys that differ between the files.
    """
    base = Path(path) if path is not None else None
    if base is not None:
        _require_dir(base)
    paths = {}
    for name, given in (("text", text), ("acwt", acwt), ("lmwt", lmwt)):
        if given is None and base is None:
            raise TypeError(f"read_kaldi_nbest: give a directory or the {name} file")
        paths[name] = Path(given) if given is not None else base / name  # type: ignore[operator]

    texts: dict[str, tuple[str, int]] = {}
    for lineno, line in _lines(paths["text"]):
        parts = line.split(maxsplit=1)
        if not parts:
            raise _err(paths["text"], lineno, f"expected '<utt-id>-<N> <words>' but found {_shorten(line)}")
        key = parts[0]
        _split_kaldi_key(key, paths["text"], lineno)
        if key in texts:
            raise _err(paths["text"], lineno, f"key {key!r} repeated (first at line {texts[key][1]})")
        texts[key] = (" ".join(parts[1].split()) if len(parts) > 1 else "", lineno)
    costs = {name: _read_kaldi_costs(paths[name]) for name in ("acwt", "lmwt")}
    for name, table in costs.items():
        _check_same_keys(paths["text"], texts, paths[name], table)

    builder = _ListBuilder()
    ranks_seen: dict[tuple[str, int], int] = {}
    for key, (words, lineno) in texts.items():
        utt, rank = _split_kaldi_key(key, paths["text"], lineno)
        if (utt, rank) in ranks_seen:  # e.g. "u-1" and "u-01"
            raise _err(
                paths["text"], lineno, f"rank {rank} of {utt!r} repeated (line {ranks_seen[utt, rank]})"
            )
        ranks_seen[utt, rank] = lineno
        scores = {AM: -costs["acwt"][key][0], LM: -costs["lmwt"][key][0]}
        builder.add(utt, Hypothesis(words, scores, rank))
    return builder.finish()


def _check_same_keys(
    ref_path: Path, ref: dict[str, tuple[object, int]], path: Path, table: dict[str, tuple[object, int]]
) -> None:
    for key, (_, lineno) in table.items():
        if key not in ref:
            raise _err(path, lineno, f"key {key!r} is not in {ref_path}")
    missing = [k for k in ref if k not in table]
    if missing:
        lineno = ref[missing[0]][1]
        raise _err(
            path,
            None,
            f"{len(missing)} key(s) of {ref_path} missing, first {missing[0]!r} ({ref_path}:{lineno})",
        )


def write_kaldi_nbest(directory: str | Path, lists: Sequence[NbestList]) -> None:
    """Write ``text``, ``acwt`` and ``lmwt`` into ``directory`` (created if needed).

    Keys are ``<utt-id>-<rank>``; costs are the negated ``"am"`` and ``"lm"`` scores
    (a missing score is written as cost 0).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with (
        open(directory / "text", "w", encoding="utf-8") as ft,
        open(directory / "acwt", "w", encoding="utf-8") as fa,
        open(directory / "lmwt", "w", encoding="utf-8") as fl,
    ):
        for nbest in lists:
            _check_utt_id(nbest.utt_id)
            for hyp in sorted(nbest.hyps, key=lambda h: h.rank):
                _check_text(hyp.text, nbest.utt_id)
                key = f"{nbest.utt_id}-{hyp.rank}"
                ft.write(f"{key} {hyp.text}\n" if hyp.text else f"{key}\n")
                fa.write(f"{key} {_fmt(-hyp.scores.get(AM, 0.0))}\n")
                fl.write(f"{key} {_fmt(-hyp.scores.get(LM, 0.0))}\n")


# --------------------------------------------------------------------------- ESPnet

_NBEST_DIR = re.compile(r"^(\d+)best_recog$")
_OUTPUT_DIR = re.compile(r"^output\.(\d+)$")
_TENSOR = re.compile(r"^tensor\(\s*([^,()\s]+)\s*(?:,[^()]*)?\)$")


def _espnet_jobs(set_dir: Path) -> list[Path]:
    """The ``output.K`` job directories under a set directory, in K order.

    Also accepts ``logdir`` itself or a single job directory.
    """
    for base in (set_dir / "logdir", set_dir):
        if not base.is_dir():
            continue
        jobs = {int(m.group(1)): p for p in base.iterdir() if p.is_dir() and (m := _OUTPUT_DIR.match(p.name))}
        if jobs:
            return [jobs[k] for k in sorted(jobs)]
    if any(_NBEST_DIR.match(p.name) for p in set_dir.iterdir() if p.is_dir()):
        return [set_dir]
    raise MissingFileError(f"{set_dir}: no ESPnet n-best output (expected logdir/output.K/Nbest_recog/)")


def _read_espnet_score(token: str, path: Path, lineno: int) -> float:
    m = _TENSOR.match(token)
    return _parse_float(m.group(1) if m else token, path, lineno, "a score 'tensor(X)' or X")


def _read_espnet_rank(rank_dir: Path) -> dict[str, tuple[str, float]]:
    """Read one ``Nbest_recog`` directory: utt -> (text, score)."""
    text_path, score_path = rank_dir / "text", rank_dir / "score"
    texts = read_text(text_path)
    lines = {utt: i for i, utt in enumerate(texts, start=1)}
    scores: dict[str, tuple[float, int]] = {}
    for lineno, line in _lines(score_path):
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise _err(score_path, lineno, f"expected '<utt-id> tensor(<score>)' but found {_shorten(line)}")
        utt = parts[0]
        if utt in scores:
            raise _err(score_path, lineno, f"utterance {utt!r} repeated (first at line {scores[utt][1]})")
        scores[utt] = (_read_espnet_score(parts[1].strip(), score_path, lineno), lineno)
    _check_same_keys(text_path, {u: (None, n) for u, n in lines.items()}, score_path, scores)
    return {utt: (texts[utt], scores[utt][0]) for utt in texts}


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
    _require_dir(set_dir)
    builder = _ListBuilder()
    job_of: dict[str, Path] = {}
    for job in _espnet_jobs(set_dir):
        rank_dirs = sorted(
            (int(m.group(1)), p) for p in job.iterdir() if p.is_dir() and (m := _NBEST_DIR.match(p.name))
        )
        if not rank_dirs:
            raise MissingFileError(f"{job}: no Nbest_recog directories")
        for rank, rank_dir in rank_dirs:
            for utt, (text, score) in _read_espnet_rank(rank_dir).items():
                owner = job_of.setdefault(utt, job)
                if owner != job:
                    raise _err(rank_dir / "text", None, f"utterance {utt!r} also decoded in {owner}")
                builder.add(utt, Hypothesis(text, {AM: score}, rank))
    return builder.finish()


def write_espnet_nbest(set_dir: str | Path, lists: Sequence[NbestList]) -> None:
    """Write lists in ESPnet2 layout as one job: ``logdir/output.1/Nbest_recog/{text,score}``.

    The ``"am"`` score is written as ``tensor(<score>)`` at full precision; the merged
    1-best ``text`` and ``score`` files are written into ``set_dir`` as ESPnet does.
    """
    set_dir = Path(set_dir)
    job = set_dir / "logdir" / "output.1"
    by_rank: dict[int, list[tuple[str, Hypothesis]]] = {}
    for nbest in lists:
        _check_utt_id(nbest.utt_id)
        for hyp in nbest.hyps:
            _check_text(hyp.text, nbest.utt_id)
            by_rank.setdefault(hyp.rank, []).append((nbest.utt_id, hyp))
    for rank, entries in sorted(by_rank.items()):
        _write_espnet_pair(job / f"{rank}best_recog", entries)
    _write_espnet_pair(set_dir, by_rank.get(1, []))


def _write_espnet_pair(directory: Path, entries: list[tuple[str, Hypothesis]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (
        open(directory / "text", "w", encoding="utf-8") as ft,
        open(directory / "score", "w", encoding="utf-8") as fs,
    ):
        for utt, hyp in entries:
            ft.write(f"{utt} {hyp.text}\n" if hyp.text else f"{utt}\n")
            fs.write(f"{utt} tensor({_fmt(hyp.scores.get(AM, 0.0))})\n")


# --------------------------------------------------------------------------- SRILM

_NBEST1 = "NBestList1.0"
_NBEST2 = "NBestList2.0"
_DECIPHER_SCORE = re.compile(r"^\((-?\d+)\)$")


def _srilm_utt_id(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return Path(name).stem


def _parse_decipher_score(token: str, path: Path, lineno: int) -> int:
    m = _DECIPHER_SCORE.match(token)
    if m is None:
        raise _err(path, lineno, f"expected a bytelog score '(<integer>)' but found {token!r}")
    return int(m.group(1))


def _parse_srilm1(parts: list[str], path: Path, lineno: int) -> tuple[str, dict[str, float]]:
    score = _parse_decipher_score(parts[0], path, lineno)
    return " ".join(parts[1:]), {AM: bytelog_to_ln(score)}


def _parse_srilm2(parts: list[str], path: Path, lineno: int) -> tuple[str, dict[str, float]]:
    """``(score) w ( st: S et: E g: G a: A ) ...``: words with times and bytelog scores.

    As SRILM does, tokens starting before the previous word ends are phones or
    states and are skipped; ``"lm"`` is the sum of the ``g:`` scores and ``"am"``
    is the total minus that sum, so the total is kept exactly.
    """
    total = _parse_decipher_score(parts[0], path, lineno)
    fields = parts[1:]
    if len(fields) % 11:
        raise _err(
            path,
            lineno,
            "expected '(score)' then 11 fields per word: "
            f"'w ( st: S et: E g: G a: A )' but found {len(fields)} fields",
        )
    words: list[str] = []
    lm = 0
    prev_end = -math.inf
    for i in range(0, len(fields), 11):
        tok = fields[i : i + 11]
        if (
            tok[1] != "("
            or tok[2] != "st:"
            or tok[4] != "et:"
            or tok[6] != "g:"
            or tok[8] != "a:"
            or tok[10] != ")"
        ):
            raise _err(
                path,
                lineno,
                f"word {i // 11 + 1}: expected 'w ( st: S et: E g: G a: A )' but found {' '.join(tok)!r}",
            )
        start = _parse_float(tok[3], path, lineno, "a start time")
        end = _parse_float(tok[5], path, lineno, "an end time")
        for j in (7, 9):
            if not re.fullmatch(r"-?\d+", tok[j]):
                raise _err(path, lineno, f"expected an integer bytelog but found {tok[j]!r}")
        if start > prev_end:
            words.append(tok[0])
            lm += int(tok[7])
            prev_end = end
    return " ".join(words), {AM: bytelog_to_ln(total - lm), LM: bytelog_to_ln(lm)}


def _parse_srilm_plain(parts: list[str], path: Path, lineno: int) -> tuple[str, dict[str, float]]:
    if len(parts) < 3:
        raise _err(
            path, lineno, f"expected '<ascore> <lscore> <nwords> <words>' but found {' '.join(parts)!r}"
        )
    ascore = _parse_float(parts[0], path, lineno, "an acoustic log10 score")
    lscore = _parse_float(parts[1], path, lineno, "an LM log10 score")
    if not parts[2].isdigit():
        raise _err(path, lineno, f"expected a word count but found {parts[2]!r}")
    return " ".join(parts[3:]), {AM: ascore * LN10, LM: lscore * LN10}


def _read_srilm_file(path: Path) -> NbestList:
    nbest = NbestList(_srilm_utt_id(path))
    parser = None
    for lineno, line in _lines(path):
        parts = line.split()
        if lineno == 1 and parts and parts[0] in (_NBEST1, _NBEST2):
            parser = _parse_srilm1 if parts[0] == _NBEST1 else _parse_srilm2
            continue
        if not parts:
            raise _err(path, lineno, "expected a hypothesis but found an empty line")
        if parts[0] in (_NBEST1, _NBEST2):
            raise _err(path, lineno, f"header {parts[0]} is only allowed on line 1")
        if parser is None:
            # No header: SRILM's own format, as SRILM decides per file.
            parser = _parse_srilm_plain
        text, scores = parser(parts, path, lineno)
        nbest.hyps.append(Hypothesis(text, scores, len(nbest.hyps) + 1))
    return nbest


def read_srilm_nbest(path: str | Path) -> list[NbestList]:
    """Read SRILM n-best lists (nbest-format(5)): one file, or a directory of them.

    Each file holds one utterance, whose id is the file stem (a ``.gz`` suffix is
    removed first and the file decompressed). The style is chosen per file:

    - ``NBestList1.0`` header: ``(bytelog) w1 w2 ...``; the composite score -> ``"am"``.
    - ``NBestList2.0`` header: ``(bytelog) w1 ( st: S et: E g: G a: A ) ...``;
      ``"lm"`` = sum of g, ``"am"`` = total - lm.
    - no header: ``ascore lscore nwords w1 ...`` in log10 -> ``"am"``, ``"lm"``.

    Bytelogs are converted with SRILM's ``ln(p) = bytelog * 1024 / 10000.5``.

    Raises
    ------
    MissingFileError
        If the path does not exist.
    NbestFormatError
        On a malformed line or a directory without n-best files.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise _err(path, None, "no SRILM n-best files in directory")
        lists = [_read_srilm_file(p) for p in files]
        seen: dict[str, Path] = {}
        for p, nbest in zip(files, lists):
            if nbest.utt_id in seen:
                raise _err(p, None, f"utterance id {nbest.utt_id!r} also from {seen[nbest.utt_id]}")
            seen[nbest.utt_id] = p
        return lists
    return [_read_srilm_file(path)]


def write_srilm_nbest(
    directory: str | Path, lists: Sequence[NbestList], style: SrilmStyle = "plain"
) -> list[Path]:
    """Write one SRILM n-best file per utterance, ``<directory>/<utt-id>.nbest``.

    Parameters
    ----------
    directory : str or Path
        Output directory, created if needed.
    lists : sequence of NbestList
        The lists; hypotheses are written in rank order.
    style : {"plain", "NBestList1.0", "NBestList2.0"}
        ``"plain"`` writes ``ascore lscore nwords words`` in log10 at full precision
        (lossless). The Decipher styles write integer bytelogs, so scores are rounded to
        the bytelog grid (steps of 1024/10000.5 = 0.1024 nats), exactly as SRILM does.
        ``NBestList1.0`` writes ``am + lm``; ``NBestList2.0`` puts both scores on the
        first word with synthetic 10 ms word times (no times are kept in memory).

    Returns
    -------
    list[Path]
        The files written, in list order.
    """
    if style not in ("plain", _NBEST1, _NBEST2):
        raise ValueError(f"unknown SRILM style {style!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for nbest in lists:
        _check_utt_id(nbest.utt_id)
        if "/" in nbest.utt_id:
            raise ValueError(f"utterance id {nbest.utt_id!r} cannot be a file name")
        out = directory / f"{nbest.utt_id}.nbest"
        with open(out, "w", encoding="utf-8") as f:
            if style != "plain":
                f.write(style + "\n")
            for hyp in sorted(nbest.hyps, key=lambda h: h.rank):
                _check_text(hyp.text, nbest.utt_id)
                f.write(_srilm_line(hyp, style, nbest.utt_id) + "\n")
        written.append(out)
    return written


def _srilm_line(hyp: Hypothesis, style: SrilmStyle, utt_id: str) -> str:
    am, lm = hyp.scores.get(AM, 0.0), hyp.scores.get(LM, 0.0)
    words = hyp.words
    if style == "plain":
        head = f"{_fmt(am / LN10)} {_fmt(lm / LN10)} {len(words)}"
        return " ".join([head, *words])
    if style == _NBEST1:
        return " ".join([f"({ln_to_bytelog(am + lm)})", *words])
    if not words and lm != 0.0:
        raise ValueError(f"{utt_id}: NBestList2.0 cannot hold an LM score for an empty hypothesis")
    g, a = ln_to_bytelog(lm), ln_to_bytelog(am)
    tokens = [f"({g + a})"]
    for i, w in enumerate(words):
        wg, wa = (g, a) if i == 0 else (0, 0)
        tokens.append(f"{w} ( st: {i / 100:.2f} et: {i / 100:.2f} g: {wg} a: {wa} )")
    return " ".join(tokens)


# --------------------------------------------------------------------------- TSV

_TSV_ALIASES = {"espnet_score": AM}  # the flattened ESPnet files in shared/data


def read_tsv_nbest(path: str | Path) -> list[NbestList]:
    """Read the plain TSV: header ``utt_id\\trank\\t<score columns...>\\ttext``.

    Score columns are natural logs, kept under their header names, except that
    ``espnet_score`` is read as ``"am"`` (the flattened ESPnet files use that name).

    Raises
    ------
    MissingFileError
        If the file does not exist.
    NbestFormatError
        On a wrong header, a wrong field count, a bad number or rank, or a repeated
        (utterance, rank).
    """
    path = Path(path)
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise _err(path, 1, "expected a header 'utt_id\\trank\\t...\\ttext' but the file is empty")
    header = first[1].split("\t")
    if len(header) < 3 or header[:2] != ["utt_id", "rank"] or header[-1] != "text":
        raise _err(
            path, 1, f"expected a header 'utt_id\\trank\\t<scores...>\\ttext' but found {_shorten(first[1])}"
        )
    names = [_TSV_ALIASES.get(h, h) for h in header[2:-1]]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise _err(path, 1, f"score column names must be unique and non-empty: {header[2:-1]}")
    builder = _ListBuilder()
    seen: dict[tuple[str, int], int] = {}
    for lineno, line in lines:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise _err(path, lineno, f"expected {len(header)} tab-separated fields but found {len(fields)}")
        utt = fields[0]
        if not utt or utt != utt.strip():
            raise _err(path, lineno, f"expected an utterance id but found {utt!r}")
        if not fields[1].isdigit() or int(fields[1]) < 1:
            raise _err(path, lineno, f"expected a rank (integer >= 1) but found {fields[1]!r}")
        rank = int(fields[1])
        if (utt, rank) in seen:
            raise _err(path, lineno, f"rank {rank} of {utt!r} repeated (first at line {seen[utt, rank]})")
        seen[utt, rank] = lineno
        scores = {n: _parse_float(v, path, lineno, f"score {n!r}") for n, v in zip(names, fields[2:-1])}
        builder.add(utt, Hypothesis(" ".join(fields[-1].split()), scores, rank))
    return builder.finish()


def write_tsv_nbest(
    path: str | Path, lists: Sequence[NbestList], score_names: Sequence[str] | None = None
) -> None:
    """Write the plain TSV (header ``utt_id\\trank\\t<scores...>\\ttext``).

    Parameters
    ----------
    path : str or Path
        Output file.
    lists : sequence of NbestList
        The lists; hypotheses are written in rank order.
    score_names : sequence of str, optional
        Columns to write, in order. Default: every score name, in first-seen order.
        Every hypothesis must have every column.
    """
    if score_names is None:
        score_names = list(dict.fromkeys(k for n in lists for h in n.hyps for k in h.scores))
    for name in score_names:
        if not name or any(c in name for c in "\t\r\n") or name in ("utt_id", "rank", "text"):
            raise ValueError(f"invalid score column name {name!r}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(["utt_id", "rank", *score_names, "text"]) + "\n")
        for nbest in lists:
            _check_utt_id(nbest.utt_id)
            for hyp in sorted(nbest.hyps, key=lambda h: h.rank):
                _check_text(hyp.text, nbest.utt_id, tab_ok=False)
                missing = [n for n in score_names if n not in hyp.scores]
                if missing:
                    raise ValueError(f"{nbest.utt_id} rank {hyp.rank}: no score {missing[0]!r}")
                values = [_fmt(hyp.scores[n]) for n in score_names]
                f.write("\t".join([nbest.utt_id, str(hyp.rank), *values, hyp.text]) + "\n")


# --------------------------------------------------------------------------- auto-detection


def _detect_dir(path: Path) -> str:
    if all((path / n).is_file() for n in ("text", "acwt", "lmwt")):
        return "kaldi"
    subdirs = [p.name for p in path.iterdir() if p.is_dir()]
    if (path / "logdir").is_dir() or any(_OUTPUT_DIR.match(n) or _NBEST_DIR.match(n) for n in subdirs):
        return "espnet"
    return "srilm"


def _detect_file(path: Path) -> str:
    if path.name == "text" and all((path.parent / n).is_file() for n in ("acwt", "lmwt")):
        return "kaldi"
    first = next(_lines(path), (1, ""))[1]
    parts = first.split()
    if first.startswith("utt_id\trank\t"):
        return "tsv"
    if parts and (parts[0] in (_NBEST1, _NBEST2) or _DECIPHER_SCORE.match(parts[0])):
        return "srilm"
    if len(parts) >= 3 and parts[2].isdigit():
        try:
            float(parts[0]), float(parts[1])
            return "srilm"
        except ValueError:
            pass
    return "rnnlm"


def read_nbest(path: str | Path, format: str | None = None) -> list[NbestList]:
    """Read n-best lists in any supported format, detecting it when not given.

    Parameters
    ----------
    path : str or Path
        A file (rnnlm, srilm, tsv, or a Kaldi ``text`` with ``acwt``/``lmwt`` beside it)
        or a directory (kaldi, espnet, or a directory of SRILM files).
    format : {"rnnlm", "kaldi", "espnet", "srilm", "tsv"}, optional
        Skip detection. Detection looks at directory contents, then the first line:
        a ``utt_id\\trank\\t`` header is TSV, an ``NBestList`` header, ``(int)`` or
        ``float float int`` is SRILM, anything else is rnnlm-0.4b text.

    Returns
    -------
    list[NbestList]
        One list per utterance, in file order, hypotheses in rank order.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: n-best input does not exist")
    if format is None:
        format = _detect_dir(path) if path.is_dir() else _detect_file(path)
    if format == "kaldi":
        return (
            read_kaldi_nbest(path)
            if path.is_dir()
            else read_kaldi_nbest(text=path, acwt=path.parent / "acwt", lmwt=path.parent / "lmwt")
        )
    readers = {
        "rnnlm": read_rnnlm_nbest,
        "espnet": read_espnet_nbest,
        "srilm": read_srilm_nbest,
        "tsv": read_tsv_nbest,
    }
    if format not in readers:
        raise ValueError(f"unknown n-best format {format!r}; expected one of {FORMATS}")
    return readers[format](path)
