"""The house rules, read from the package's source (its AST): the options table is the only
place an option's default is written; library modules never import the command line's
modules; no module grows past 400 lines; ``cmd_train`` stays a thin hand-over."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from test_package import PACKAGE, _module_name, import_graph

from rnnlm_fast.options import OPTIONS

# The command line's modules: argparse glue over the API. Nothing else may import them.
CLI_MODULES = {"rnnlm_fast.cli", "rnnlm_fast.cli_train", "rnnlm_fast.cli_eval", "rnnlm_fast.ngram_cli",
               "rnnlm_fast.nbest.cli", "rnnlm_fast.options_cli"}
# rnnlm-0.4b's file header as the file has it: fields named like our options, with that format's values
NOT_OUR_OPTIONS = {"rnnlm_fast.rnnlm04b.layout"}
MAX_LINES = 400
MAX_CMD_TRAIN_LINES = 25


def _modules() -> list[tuple[str, Path]]:
    return [(_module_name(p, PACKAGE), p) for p in sorted(PACKAGE.rglob("*.py"))]


def _keyword_defaults(tree: ast.AST):
    """(parameter name, default node) of every function's parameters with a default."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            positional = a.posonlyargs + a.args
            yield from zip([p.arg for p in positional[len(positional) - len(a.defaults):]], a.defaults)
            yield from ((p.arg, d) for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None)
        elif isinstance(node, ast.ClassDef):  # dataclass fields: ``lr: float = 1.003``
            for item in node.body:
                named = isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                if named and item.value is not None:
                    yield item.target.id, item.value


def literal_option_defaults(source: str) -> list[str]:
    """'name = literal (line n)' for every keyword default of an option of the table written as a
    literal (a number, string or bool, or a negated number) instead of read from it. None is
    no value: "not given" (the caller's, a checkpoint's), never a re-declared default."""
    found = []
    for name, default in _keyword_defaults(ast.parse(source)):
        value = default.operand if isinstance(default, ast.UnaryOp) else default
        if name in OPTIONS and isinstance(value, ast.Constant) and value.value is not None:
            found.append(f"{name} = {ast.unparse(default)} (line {default.lineno})")
    return found


def test_the_guard_sees_a_literal_default():
    assert literal_option_defaults("def f(x, *, bptt=4, seed: int = -1, oov='auto'): pass") == [
        "bptt = 4 (line 1)", "seed = -1 (line 1)", "oov = 'auto' (line 1)"]
    assert literal_option_defaults("class S:\n    min_lr: float = 0.0\n") == ["min_lr = 0.0 (line 2)"]
    assert literal_option_defaults("def f(bptt=DEFAULTS['bptt'], other=4, threads=None): pass") == []


CHECKED = [m for m in _modules() if m[0] not in {"rnnlm_fast.options", *NOT_OUR_OPTIONS}]


@pytest.mark.parametrize("module,path", CHECKED, ids=lambda v: v if isinstance(v, str) else "")
def test_no_option_default_is_written_outside_the_table(module, path):
    assert literal_option_defaults(path.read_text(encoding="utf-8")) == [], (
        f"{module}: read these defaults from rnnlm_fast.options (DEFAULTS or OPTIONS)")


def test_every_flag_of_a_table_option_comes_from_the_table():
    """No command declares a table option's flag by hand: options_cli.add_arguments adds them all."""
    flags = {o.flag for o in OPTIONS.values() if o.flag}
    flags |= {f for o in OPTIONS.values() for f, _ in o.shortcuts}
    by_hand = []
    for module, path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_argument" and node.args
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value in flags):
                by_hand.append(f"{module}:{node.lineno} {node.args[0].value}")
    assert by_hand == []


def test_no_library_module_imports_a_command_line_module():
    graph = import_graph()
    assert CLI_MODULES <= set(graph)
    wrong = {module: sorted(edges & CLI_MODULES) for module, edges in graph.items()
             if module not in CLI_MODULES and edges & CLI_MODULES}
    assert wrong == {}


def test_no_module_is_longer_than_the_house_allows():
    long = {module: n for module, path in _modules()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"over {MAX_LINES} lines: split by responsibility"


def test_cmd_train_hands_one_request_down():
    path = PACKAGE / "cli_train.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "cmd_train")
    assert fn.end_lineno - fn.lineno + 1 <= MAX_CMD_TRAIN_LINES
    # the distributed trainer is chosen below the command line, not by a callback into it
    launch = (PACKAGE / "distributed" / "launch.py").read_text(encoding="utf-8")
    assert "cmd_train" not in launch and "RNNLM" not in launch


def test_readme_architecture_names_every_module_and_engine_file():
    """README's Architecture tables name every file of rnnlm_fast/ and csrc/ (a new file gets its row)."""
    root = Path(__file__).resolve().parents[1]
    readme = root / "README.md"
    if not readme.is_file() or not (root / "csrc").is_dir():
        pytest.skip("reads the source tree")
    text = readme.read_text(encoding="utf-8")
    arch = text[text.index("## Architecture"):]
    names = set(re.findall(r"`([^`]+)`", arch))
    spelled: set[str] = set()
    for name in names:  # `rnn.{h,cc}` and `kaldi.py`, `espnet.py` forms
        stem, _, exts = name.partition(".{")
        spelled |= {f"{stem}.{e}" for e in exts.rstrip("}").split(",")} if exts else {name}
    missing = []
    for path in sorted((root / "rnnlm_fast").rglob("*.py")):
        rel = path.relative_to(root / "rnnlm_fast").as_posix()
        if rel not in spelled and path.name not in spelled:
            missing.append(f"rnnlm_fast/{rel}")
    for path in sorted((root / "csrc").iterdir()):
        if path.name not in spelled:
            missing.append(f"csrc/{path.name}")
    assert not missing, f"README's Architecture does not name: {missing}"
