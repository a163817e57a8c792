"""The train command's one request (rnnlm_fast/cli_train.py -> rnnlm_fast/runs.py) and the
table-driven flags: defaults said once, old names through the one deprecation mechanism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import CLASSES, HIDDEN, run_main

from rnnlm_fast import RNNLM, ConfigError, MissingFileError, Vocabulary, options
from rnnlm_fast._files import check_output
from rnnlm_fast.cli import build_parser
from rnnlm_fast.cli_train import train_request
from rnnlm_fast.model_file import read_model, write_model


def _request(*argv: str):
    args = build_parser().parse_args(["train", "--train", "t.txt", "--valid", "v.txt", *argv])
    for name in ("classes", "threads"):  # as main() does
        setattr(args, f"{name}_given", getattr(args, name) is not None)
        if getattr(args, name) is None:
            setattr(args, name, options.DEFAULTS[name])
    return train_request(args)


def test_the_request_resolves_the_checkpoint_and_the_thread_count_once():
    r = _request("--output", "out/m.rnnlm")
    assert r.checkpoint == Path("out/m.rnnlm.ckpt") and r.history is None and not r.resume
    assert r.training["threads"] == options.DEFAULTS["threads"] and r.model["direction"] == "forward"
    assert _request("--output", "m", "--no-checkpoint").checkpoint is None
    assert _request("--output", "m", "--checkpoint", "c").checkpoint == Path("c")
    # resumed without --threads: the checkpoint's count (None); given: that count
    assert _request("--output", "m", "--resume").training["threads"] is None
    assert _request("--output", "m", "--resume", "--threads", "3").training["threads"] == 3
    assert _request("--output", "m", "--backward").model["direction"] == "backward"


def test_batch_commands_default_to_every_core_from_one_declaration():
    commands = build_parser().commands
    for name in ("demo", "rescore"):
        assert commands[name].get_default("threads") == options.BATCH_DEFAULTS["threads"], name
    assert commands["score"].get_default("threads") == options.DEFAULTS["threads"]


def test_scoring_flags_come_from_the_table():
    commands = build_parser().commands
    args = commands["score"].parse_args(["--model", "m", "--carry-state"])
    assert args.carry_state is True
    assert commands["rescore"].parse_args(["--model", "m", "--nbest", "n"]).carry_state is False
    assert commands["eval"].parse_args(["--model", "m", "--text", "t", "--independent"]).independent
    assert commands["generate"].parse_args(["--model", "m"]).seed == options.DEFAULTS["seed"]
    help_text = " ".join(commands["train"].format_help().split())
    assert "(default the cell's" in help_text and "--backward" in help_text


def test_the_old_cell_name_warns_through_the_table(toy, toy_vocab, tmp_path, capsys):
    with pytest.warns(DeprecationWarning, match="'activation' is deprecated; call it 'cell'"):
        model = RNNLM(toy_vocab, hidden=HIDDEN, activation="tanh")
    assert model.cell == model.activation == "tanh"
    with pytest.raises(ConfigError, match="given twice"), pytest.warns(DeprecationWarning):
        RNNLM(toy_vocab, cell="gru", activation="tanh")
    out = tmp_path / "m.rnnlm"
    with pytest.warns(DeprecationWarning, match="rnnlm-fast train: --activation is deprecated; use --cell"):
        rc, _, _ = run_main(capsys, "train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
                            "--output", str(out), "--hidden", str(HIDDEN), "--classes", str(CLASSES),
                            "--activation", "relu", "--max-epochs", "1", "--quiet", "--no-checkpoint")
    assert rc == 0 and RNNLM.load(out).cell == "relu"
    # a model file that stores the cell under its old key still loads
    header, arrays = read_model(out)
    header["config"]["activation"] = header["config"].pop("cell")
    write_model(tmp_path / "old.rnnlm", header, arrays)
    assert RNNLM.load(tmp_path / "old.rnnlm").cell == "relu"


def test_positional_model_options_bind_in_the_tables_order(toy_vocab):
    model = RNNLM(toy_vocab, HIDDEN, "gru", 7)
    assert (model.hidden, model.cell, model.seed) == (HIDDEN, "gru", 7)
    with pytest.raises(TypeError, match="by position and by keyword"):
        RNNLM(toy_vocab, HIDDEN, hidden=4)
    with pytest.raises(TypeError, match="at most 3"):
        RNNLM(toy_vocab, HIDDEN, "gru", 7, 100)


def test_the_model_file_config_keeps_its_keys_and_order(toy_vocab, tmp_path):
    model = RNNLM(toy_vocab, hidden=HIDDEN)
    header, _, _ = model.file_content()
    assert list(header["config"]) == ["vocab_size", "hidden", "classes", "cell", "direct", "direct_order",
                                      "seed", "direction"]  # direct_hash: only when not the default
    hashed = RNNLM(toy_vocab, hidden=HIDDEN, direct=1000, direct_hash="rnnlm04b")
    assert hashed.file_content()[0]["config"]["direct_hash"] == "rnnlm04b"
    assert json.dumps(header["config"])  # plain JSON values


def test_one_output_check_for_every_command(tmp_path):
    with pytest.raises(MissingFileError, match=r"--report cannot write .*: directory .* does not exist"):
        check_output(tmp_path / "no" / "r.json", "--report")
    with pytest.raises(ConfigError, match="it is a directory"):
        check_output(tmp_path)
    with pytest.raises(ConfigError, match="it is a file; this output format writes a directory"):
        (tmp_path / "f").write_text("x")
        check_output(tmp_path / "f", directory=True)
    with pytest.raises(ConfigError, match=r"'.*f' exists; pass --overwrite to replace it"):
        check_output(tmp_path / "f", overwrite=False)
    assert check_output(tmp_path / "f") == tmp_path / "f"


def test_a_vocabulary_file_is_reclassed_only_when_classes_are_given(toy, tmp_path, capsys):
    vocab = Vocabulary.from_corpus(toy["train"], classes=CLASSES)
    vocab.save(tmp_path / "v.txt")
    common = ["train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
              "--vocab", str(tmp_path / "v.txt"), "--hidden", str(HIDDEN), "--max-epochs", "1", "--quiet",
              "--no-checkpoint"]
    assert run_main(capsys, *common, "--output", str(tmp_path / "a"))[0] == 0
    assert RNNLM.load(tmp_path / "a").n_classes == vocab.n_classes
    assert run_main(capsys, *common, "--output", str(tmp_path / "b"), "--classes", "3")[0] == 0
    assert RNNLM.load(tmp_path / "b").n_classes == 3
