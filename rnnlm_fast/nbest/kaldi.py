"""Kaldi n-best lists: ``text``, ``acwt`` and ``lmwt`` files keyed ``<utt-id>-<N>``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ._io import (
    ListBuilder,
    check_same_keys,
    check_text,
    check_utt_id,
    error,
    fmt_float,
    id_line,
    parse_float,
    read_keyed,
    require_dir,
)
from .lists import AM, LM, Hypothesis, NbestList

__all__ = ["read_kaldi_nbest", "write_kaldi_nbest"]

_KALDI_KEY = re.compile(r"^(.+)-(\d+)$")
FILES = ("text", "acwt", "lmwt")


def _split_key(key: str, path: Path, lineno: int) -> tuple[str, int]:
    m = _KALDI_KEY.match(key)
    if m is None:
        raise error(path, lineno, f"expected a key '<utt-id>-<N>' but found {key!r}")
    return m.group(1), int(m.group(2))


def _read_costs(path: Path) -> dict[str, tuple[float, int]]:
    """``<key> <cost>`` lines -> key -> (cost, line number)."""

    def parse(key: str, token: str, lineno: int) -> float:
        _split_key(key, path, lineno)
        return parse_float(token, path, lineno, "a cost")

    return read_keyed(path, "'<utt-id>-<N> <cost>'", parse, value="token")


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
        require_dir(base)
    paths = {}
    for name, given in zip(FILES, (text, acwt, lmwt)):
        if given is None and base is None:
            raise TypeError(f"read_kaldi_nbest: give a directory or the {name} file")
        paths[name] = Path(given) if given is not None else base / name  # type: ignore[operator]

    text_path = paths["text"]

    def parse_words(key: str, words: str, lineno: int) -> str:
        _split_key(key, text_path, lineno)
        return words

    texts = read_keyed(text_path, "'<utt-id>-<N> <words>'", parse_words)
    costs = {name: _read_costs(paths[name]) for name in ("acwt", "lmwt")}
    for name, table in costs.items():
        check_same_keys(text_path, texts, paths[name], table)

    builder = ListBuilder()
    ranks_seen: dict[tuple[str, int], int] = {}
    for key, (words, lineno) in texts.items():
        utt, rank = _split_key(key, text_path, lineno)
        if (utt, rank) in ranks_seen:  # e.g. "u-1" and "u-01"
            raise error(text_path, lineno, f"rank {rank} of {utt!r} repeated (line {ranks_seen[utt, rank]})")
        ranks_seen[utt, rank] = lineno
        scores = {AM: -costs["acwt"][key][0], LM: -costs["lmwt"][key][0]}
        builder.add(utt, Hypothesis(words, scores, rank))
    return builder.finish()


def write_kaldi_nbest(directory: str | Path, lists: Sequence[NbestList]) -> None:
    """Write ``text``, ``acwt`` and ``lmwt`` into ``directory`` (created if needed).

    Keys are ``<utt-id>-<rank>``; costs are the negated ``"am"`` and ``"lm"`` scores
    (a missing score is written as cost 0).

    Raises
    ------
    ValueError
        If an utterance id is empty or has whitespace, or a text has a newline.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with (
        open(directory / "text", "w", encoding="utf-8") as ft,
        open(directory / "acwt", "w", encoding="utf-8") as fa,
        open(directory / "lmwt", "w", encoding="utf-8") as fl,
    ):
        for nbest in lists:
            check_utt_id(nbest.utt_id)
            for hyp in nbest.ranked():
                check_text(hyp.text, nbest.utt_id)
                key = f"{nbest.utt_id}-{hyp.rank}"
                ft.write(id_line(key, hyp.text))
                fa.write(f"{key} {fmt_float(-hyp.scores.get(AM, 0.0))}\n")
                fl.write(f"{key} {fmt_float(-hyp.scores.get(LM, 0.0))}\n")
