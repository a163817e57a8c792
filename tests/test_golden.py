"""Behaviour preserved across refactors: seeded runs and CLI outputs match the recorded digests
(see tests/golden.py for what is recorded and how)."""

from __future__ import annotations

import json

import pytest
from golden import GOLDEN_FILE, cases, kernel_level, make_inputs

CASES = cases()


@pytest.fixture(scope="module")
def recorded() -> dict:
    stored = json.loads(GOLDEN_FILE.read_text())
    level = kernel_level()
    if level not in stored:
        pytest.skip(f"no golden digests recorded for kernel level {level} (recorded: {sorted(stored)}); "
                    "floating-point results differ between kernel clones")
    return stored[level]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    return root, make_inputs(root / "inputs")


@pytest.mark.parametrize("name,compute", CASES, ids=[name for name, _ in CASES])
def test_matches_recorded_digests(name, compute, recorded, inputs):
    root, files = inputs
    got = compute(root, files)
    want = recorded[name]
    assert set(got) == set(want)
    for key in want:
        assert got[key] == want[key], f"{name}: {key} changed"
