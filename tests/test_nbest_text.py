"""Kaldi-style ``text`` files (references, 1-best outputs)."""

from __future__ import annotations

from nbest_samples import expect_broken_file

from rnnlm_fast.nbest import read_text, write_text


def test_text_round_trip(tmp_path):
    texts = {"u1": "A B", "u2": "", "u3": "ÉTÉ"}
    write_text(tmp_path / "text", texts)
    assert read_text(tmp_path / "text") == texts


def test_text_malformed(tmp_path):
    expect_broken_file(tmp_path / "text", read_text, "u1 a\nu2 b\nu1 c\n", 3, "repeated (first at line 1)")
