"""The direct_hash option on the command line: ``train --direct-hash rnnlm04b`` records it, and
``--resume`` takes it given as the checkpoint has it (older checkpoints lack it: the default)."""

from __future__ import annotations

import pytest
from corpora import write_corpus
from helpers import run_main

from rnnlm_fast import RNNLM, ConfigError, Vocabulary
from rnnlm_fast.model_file import read_header
from rnnlm_fast.runs import check_resume_options


def test_train_with_rnnlm04b_hashing(capsys, tmp_path):
    corpus = write_corpus(tmp_path / "train.txt", 50, seed=3)
    out = tmp_path / "m.rnnlm"
    rc, _, err = run_main(capsys, "train", "--train", str(corpus), "--valid", str(corpus),
                          "--output", str(out), "--hidden", "4", "--classes", "4", "--direct", "200",
                          "--direct-order", "2",
                          "--direct-hash", "rnnlm04b", "--max-epochs", "1", "--quiet", "--no-checkpoint")
    assert rc == 0, err
    assert read_header(out)["config"]["direct_hash"] == "rnnlm04b"
    assert RNNLM.load(out).direct_hash == "rnnlm04b"
    with pytest.raises(SystemExit) as e:
        run_main(capsys, "train", "--train", str(corpus), "--valid", str(corpus), "--output", str(out),
                 "--direct-hash", "md5", "--overwrite")
    assert e.value.code == 2 and "invalid choice: 'md5'" in capsys.readouterr().err


def test_resume_compares_the_hash_scheme_with_the_checkpoints(tmp_path):
    corpus = write_corpus(tmp_path / "train.txt", 40, seed=3)
    vocab = Vocabulary.from_corpus(corpus, classes=4)
    for scheme in ("splitmix", "rnnlm04b"):
        ckpt = tmp_path / f"{scheme}.ckpt"
        model = RNNLM(vocab, hidden=4, direct=200, direct_order=2, direct_hash=scheme)
        model.train(corpus, corpus, max_epochs=1, progress=False, checkpoint=ckpt)
        assert ("direct_hash" in read_header(ckpt)["config"]) == (scheme != "splitmix")
        check_resume_options(ckpt, {"direct_hash": scheme})  # as the run had it: accepted
        other = "rnnlm04b" if scheme == "splitmix" else "splitmix"
        with pytest.raises(ConfigError, match=f"--direct-hash {other} differs from checkpoint"):
            check_resume_options(ckpt, {"direct_hash": other})
