"""Every n-best format by name: ``FORMATS``, detection, ``read_nbest`` and ``write_nbest``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rnnlm_fast.errors import MissingFileError

from ._io import lines
from .espnet import looks_like_espnet, read_espnet_nbest, write_espnet_nbest
from .kaldi import FILES as KALDI_FILES
from .kaldi import read_kaldi_nbest, write_kaldi_nbest
from .lists import NbestList
from .rnnlm_format import read_rnnlm_nbest, write_rnnlm_nbest
from .srilm import looks_like_srilm, read_srilm_nbest, write_srilm_nbest
from .tsv import HEADER_START as TSV_HEADER_START
from .tsv import read_tsv_nbest, write_tsv_nbest

__all__ = ["FORMATS", "detect_format", "read_nbest", "write_nbest"]

_WRITERS: dict[str, Callable[..., Any]] = {
    "rnnlm": write_rnnlm_nbest,
    "kaldi": write_kaldi_nbest,
    "espnet": write_espnet_nbest,
    "srilm": write_srilm_nbest,
    "tsv": write_tsv_nbest,
}
_READERS: dict[str, Callable[[Path], list[NbestList]]] = {
    "rnnlm": read_rnnlm_nbest,
    "kaldi": read_kaldi_nbest,
    "espnet": read_espnet_nbest,
    "srilm": read_srilm_nbest,
    "tsv": read_tsv_nbest,
}
FORMATS = tuple(_READERS)  # ("rnnlm", "kaldi", "espnet", "srilm", "tsv"), the same keys as _WRITERS


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"unknown n-best format {format!r}; expected one of {FORMATS}")


def detect_format(path: str | Path) -> str:
    """The format of an existing n-best file or directory, one of ``FORMATS``.

    A directory with ``text``, ``acwt`` and ``lmwt`` is Kaldi; one with ``logdir``,
    ``output.K`` or ``<N>best_recog`` is ESPnet; any other directory is SRILM. A file
    named ``text`` with ``acwt``/``lmwt`` beside it is Kaldi; otherwise the first line
    decides: a ``utt_id\\trank\\t`` header is TSV, an ``NBestList`` header, ``(int)`` or
    ``float float int`` is SRILM, anything else is rnnlm-0.4b text.
    """
    path = Path(path)
    if path.is_dir():
        if all((path / n).is_file() for n in KALDI_FILES):
            return "kaldi"
        return "espnet" if looks_like_espnet(path) else "srilm"
    if path.name == "text" and all((path.parent / n).is_file() for n in KALDI_FILES[1:]):
        return "kaldi"
    first = next(lines(path), (1, ""))[1]
    if first.startswith(TSV_HEADER_START):
        return "tsv"
    return "srilm" if looks_like_srilm(first) else "rnnlm"


def read_nbest(path: str | Path, format: str | None = None) -> list[NbestList]:
    """Read n-best lists in any supported format, detecting it when not given.

    Parameters
    ----------
    path : str or Path
        A file (rnnlm, srilm, tsv, or a Kaldi ``text`` with ``acwt``/``lmwt`` beside it)
        or a directory (kaldi, espnet, or a directory of SRILM files).
    format : {"rnnlm", "kaldi", "espnet", "srilm", "tsv"}, optional
        Skip detection (see ``detect_format``).

    Returns
    -------
    list[NbestList]
        One list per utterance, in file order, hypotheses in rank order.

    Raises
    ------
    MissingFileError
        If ``path`` (or a file the format needs) does not exist.
    NbestFormatError
        If a file is malformed (the message names the file and line).
    ValueError
        On an unknown ``format``.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: n-best input does not exist")
    if format is None:
        format = detect_format(path)
    _check_format(format)
    if format == "kaldi" and not path.is_dir():
        return read_kaldi_nbest(text=path, acwt=path.parent / "acwt", lmwt=path.parent / "lmwt")
    return _READERS[format](path)


def write_nbest(path: str | Path, lists: Sequence[NbestList], format: str, **options: Any) -> None:
    """Write n-best lists in one of ``FORMATS``, so that ``read_nbest(path, format)`` reads them back.

    Parameters
    ----------
    path : str or Path
        A file for rnnlm and tsv; a directory (created if needed) for kaldi, espnet and
        srilm.
    lists : sequence of NbestList
        The lists; each writer's docstring says which scores it keeps.
    format : {"rnnlm", "kaldi", "espnet", "srilm", "tsv"}
        The format.
    **options
        Passed to the format's writer: ``style`` for srilm, ``score_names`` for tsv.

    Raises
    ------
    ValueError
        On an unknown ``format``, or what the writer refuses (e.g. a text with a newline).
    TypeError
        On an option the format's writer does not take.
    """
    _check_format(format)
    _WRITERS[format](path, lists, **options)
