"""The package as a whole: its import graph has no cycle, and every option's default is the
one declared in rnnlm_fast/options.py wherever the option appears (API, CLI, checkpoint)."""

from __future__ import annotations

import ast
import email
import importlib.metadata
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from corpora import write_corpus

import rnnlm_fast
from rnnlm_fast import RNNLM, Vocabulary, options
from rnnlm_fast.cli import build_parser
from rnnlm_fast.cli import main as cli_main
from rnnlm_fast.model_file import read_header
from rnnlm_fast.options import DEFAULTS, OPTIONS

PACKAGE = Path(rnnlm_fast.__file__).parent
# The package's subpackages, as pyproject.toml lists them.
SUBPACKAGES = ("nbest", "distributed", "rnnlm04b")
# The tests that read the repository's own files (README, pyproject.toml, csrc/) skip where the
# package is an installed wheel without them (scripts/check_wheel.sh runs the suite that way).
SOURCE_TREE = (PACKAGE.parent / "pyproject.toml").is_file() and (PACKAGE.parent / "csrc").is_dir()
needs_source = pytest.mark.skipif(not SOURCE_TREE,
                                  reason="reads the source tree; rnnlm_fast is an installed wheel")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str, root: Path) -> bool:
    """A module or package of ours, the compiled extension (``_core.*.so``) included."""
    rel = root.parent / Path(*name.split("."))
    return (rel.with_suffix(".py").is_file() or (rel / "__init__.py").is_file()
            or any(rel.parent.glob(f"{rel.name}.*.so")) or any(rel.parent.glob(f"{rel.name}.*.pyd")))


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its body (functions included)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        name = _module_name(path, root)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # "from pkg import sub" imports the submodule; "from mod import name" the module
                targets = [f"{base}.{a.name}" if _is_module(f"{base}.{a.name}", root) else base
                           for a in node.names]
            else:
                continue
            edges |= {t for t in targets
                      if t.split(".")[0] == root.name and _is_module(t, root) and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules (first == last), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert {"rnnlm_fast.model", "rnnlm_fast.training", "rnnlm_fast.cli", "rnnlm_fast.options"} <= set(graph)
    assert "rnnlm_fast.checkpoint" in graph["rnnlm_fast.training"]
    assert find_cycle(graph) == [], " -> ".join(find_cycle(graph))


def test_the_cycle_finder_sees_lazy_imports(tmp_path):
    """A cycle closed only by an import inside a function (as model.py and checkpoint.py once
    had) is found; without it the same package has none."""
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("from .model import Model\n")
    (root / "model.py").write_text("from . import sub\nfrom .sub.check import save\nclass Model: pass\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "check.py").write_text("def save():\n    from ..model import Model\n    return Model\n")
    cycle = find_cycle(import_graph(root))
    assert cycle == ["pkg.model", "pkg.sub.check", "pkg.model"]
    (root / "sub" / "check.py").write_text("def save(model):\n    return model\n")
    assert find_cycle(import_graph(root)) == []


def test_training_never_imports_the_model():
    graph = import_graph()
    assert "rnnlm_fast.model" not in graph["rnnlm_fast.training"]
    assert "rnnlm_fast.model" not in graph["rnnlm_fast.checkpoint"]


# --- one source of defaults -------------------------------------------------------------------

def _subcommand(name: str):
    return build_parser().commands[name]


def _cli_defaults(command: str) -> dict:
    parser = _subcommand(command)
    return {a.dest: parser.get_default(a.dest) for a in parser._actions}


def test_api_signatures_take_their_defaults_from_the_table():
    init = inspect.signature(RNNLM.__init__).parameters
    for name in options.MODEL:
        assert init[name].default == DEFAULTS[name], name
    train = inspect.signature(RNNLM.train).parameters
    for name in options.TRAINING:
        assert train[name].default == DEFAULTS[name], name
    epoch = inspect.signature(RNNLM.train_epoch).parameters
    for name in options.EPOCH:
        assert epoch[name].default == DEFAULTS[name], name
    for method in (RNNLM.score, RNNLM.perplexity):
        assert inspect.signature(method).parameters["oov_penalty"].default == DEFAULTS["oov_penalty"]
    assert inspect.signature(RNNLM.score).parameters["oov"].default == DEFAULTS["oov"]


def test_every_option_is_documented_where_it_is_taken():
    for name in options.TRAINING:
        assert f"{name} : " in RNNLM.train.__doc__, name


def test_cli_defaults_are_the_tables():
    train = _cli_defaults("train")
    # classes and threads default to None on `train` so that a vocabulary file's classes and a
    # checkpoint's thread count can win; main() then fills in the table's default
    for name in options.MODEL + options.VOCABULARY + options.TRAINING:
        if name in ("classes", "threads"):
            assert train[name] is None
        else:
            assert train[name] == DEFAULTS[name], name
    for command in ("eval", "score"):
        got = _cli_defaults(command)
        for name in ("threads", "oov_penalty"):
            assert got[name] == DEFAULTS[name], (command, name)
    assert _cli_defaults("score")["oov"] == DEFAULTS["oov"]


def test_cli_flags_are_the_tables():
    flags = {s for a in _subcommand("train")._actions for s in a.option_strings}
    for name in options.MODEL + options.VOCABULARY + options.TRAINING:
        assert OPTIONS[name].flag in flags, name


def test_a_run_records_the_tables_defaults(tmp_path):
    """What a model file and a checkpoint record, for a run given no options, is the table's."""
    corpus = write_corpus(tmp_path / "train.txt", 60)
    model = RNNLM(Vocabulary.from_corpus(corpus, classes=4), hidden=6)
    model.train(corpus, corpus, max_epochs=1, progress=False, checkpoint=tmp_path / "run.ckpt")
    header = read_header(tmp_path / "run.ckpt")
    recorded = options.from_file(header["train_options"])
    checkpointed = options.from_file(header["checkpoint"]["options"])
    expected = {n: DEFAULTS[n] for n in options.TRAINING}
    expected.update(lr=options.lr_for(model.cell), max_epochs=1)
    assert recorded == {n: expected[n] for n in options.RECORDED}
    assert checkpointed == expected
    assert model.train_options == recorded
    config = header["config"]
    for name in ("hidden", "cell", "seed", "direction"):
        assert config[name] == (6 if name == "hidden" else DEFAULTS[name]), name


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_option_checks_its_rule_with_one_message(name):
    o = OPTIONS[name]
    assert o.check(o.default) == o.default
    bad = "not-a-value" if o.type is not str else 3.5
    message = f"^{re.escape(name)} must be {re.escape(o.rule())}, not "
    with pytest.raises(rnnlm_fast.ConfigError, match=message):
        o.check(bad)


def test_the_old_l2_spelling_warns_and_still_works(tmp_path):
    corpus = write_corpus(tmp_path / "train.txt", 40)
    model = RNNLM(Vocabulary.from_corpus(corpus, classes=4), hidden=6)
    with pytest.warns(DeprecationWarning, match="'beta' is deprecated; call it 'l2'"):
        model.train(corpus, corpus, max_epochs=1, progress=False, beta=1e-4)
    assert model.train_options["l2"] == 1e-4
    with pytest.raises(rnnlm_fast.ConfigError, match="given twice"), pytest.warns(DeprecationWarning):
        model.train(corpus, corpus, max_epochs=1, progress=False, beta=1e-4, l2=1e-4)


def _readme_options() -> dict[str, str]:
    """The README's options table: API name -> the default it states."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(--[a-z0-9-]+)` / `([a-z0-9_]+)` \| ([^|]+) \|", readme, flags=re.M)
    return {name: default.strip() for flag, name, default in rows if name in OPTIONS}


@needs_source
def test_the_readme_states_the_tables_defaults_and_flags():
    stated = _readme_options()
    assert set(stated) == set(OPTIONS), set(OPTIONS) ^ set(stated)
    for name, text in stated.items():
        default = DEFAULTS[name]
        if default is None:  # derived: from the cell, from the number of processes, or none
            assert text == {"lr": "by cell", "block_momentum": "1 - 1/ranks"}.get(name, "none"), name
        elif isinstance(default, bool):
            assert text == ("on" if default else "off"), name
        elif isinstance(default, (int, float)):
            assert float(text) == default, name
        else:
            assert text == default, name


def test_rescore_takes_the_tables_scoring_defaults_except_its_threads():
    got = _cli_defaults("rescore")
    assert got["oov"] == DEFAULTS["oov"] and got["oov_penalty"] == DEFAULTS["oov_penalty"]
    assert got["threads"] == 0  # all cores: rescoring is a batch job


@needs_source
def test_every_source_file_stays_under_500_lines():
    """A module past 500 lines is holding two jobs (house style); csrc/ keeps the same limit."""
    sources = list(PACKAGE.rglob("*.py")) + list((PACKAGE.parent / "csrc").glob("*.[ch]*"))
    assert len(sources) > 30
    long = {str(p.relative_to(PACKAGE.parent)): n for p in sources
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}


def test_the_cli_prints_the_table(capsys):
    from rnnlm_fast.cli import main

    assert main(["options"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == list(OPTIONS)
    assert any(line.startswith("l2 ") and "-beta" in line and "1e-06" in line for line in lines)


# --- packaging: one version, a license file, metadata, jiwer as an extra -------------------
ROOT = PACKAGE.parent


def wheel_metadata(tmp_path) -> str:
    """The METADATA a wheel of the repository would carry, prepared by the build backend
    (PEP 517) from a copy of the files it reads: nothing is compiled."""
    src = tmp_path / "src"
    for package in SUBPACKAGES:
        (src / "rnnlm_fast" / package).mkdir(parents=True)
        (src / "rnnlm_fast" / package / "__init__.py").touch()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copy(PACKAGE / "__init__.py", src / "rnnlm_fast" / "__init__.py")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                           "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))", str(out)],
                          cwd=src, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dist_info = out / proc.stdout.strip().splitlines()[-1]
    assert (dist_info / "licenses" / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    return (dist_info / "METADATA").read_text(encoding="utf-8")


@needs_source
def test_license_file_is_mit_and_travels_in_the_wheel(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c) 2026 rnnlm-fast developers" in text
    meta = email.message_from_string(wheel_metadata(tmp_path))
    assert meta["License-Expression"] == "MIT" and meta.get_all("License-File") == ["LICENSE"]


@needs_source
def test_one_version_and_metadata(tmp_path):
    """The version is written once (rnnlm_fast/__init__.py); the wheel's metadata has it,
    classifiers, URLs, and only numpy, tqdm and the extension's BLAS (scipy-openblas32) as base
    requirements (jiwer is the rescore extra)."""
    pytest.importorskip("setuptools", minversion="77")
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert not re.search(r"\d+\.\d+\.\d+", (ROOT / "pyproject.toml").read_text().split("[project.urls]")[0]
                         .split("dynamic")[1].split("\n")[0])
    meta = email.message_from_string(wheel_metadata(tmp_path))
    assert meta["Version"] == rnnlm_fast.__version__
    base = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert sorted(re.split("[<>=; ]", r)[0] for r in base) == ["numpy", "scipy-openblas32", "tqdm"]
    assert 'jiwer>=3.0; extra == "rescore"' in meta.get_all("Requires-Dist")
    assert 'jiwer>=3.0; extra == "test"' in meta.get_all("Requires-Dist")  # CI runs the rescoring tests
    for extra, requirement in (("kenlm", "kenlm>=0.2"), ("plot", "matplotlib>=3.5")):
        assert f'{requirement}; extra == "{extra}"' in meta.get_all("Requires-Dist")
        assert f'{requirement}; extra == "test"' in meta.get_all("Requires-Dist")  # their tests run in CI
    classifiers = meta.get_all("Classifier")
    for prefix in ("Operating System :: ", "Programming Language :: Python :: 3.", "Topic :: ",
                   "Intended Audience :: ", "Development Status :: "):
        assert any(c.startswith(prefix) for c in classifiers), prefix
    assert meta.get_all("Project-URL")


def test_installed_version_is_the_package_version():
    try:
        installed = importlib.metadata.version("rnnlm-fast")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("rnnlm-fast is not installed (run from a source tree)")
    assert installed == rnnlm_fast.__version__
    extras = importlib.metadata.metadata("rnnlm-fast").get_all("Provides-Extra")
    assert {"rescore", "kenlm", "plot", "test"} <= set(extras)


def test_rescore_without_jiwer_says_how_to_install_it(toy, tmp_path, capsys, monkeypatch):
    """jiwer is optional: scoring works without it, and rescore with references fails at once
    with one line naming the extra."""
    monkeypatch.setitem(sys.modules, "jiwer", None)  # "import jiwer" raises ImportError
    nbest = tmp_path / "dev.tsv"
    nbest.write_text("utt_id\trank\tam\tlm\ttext\nu1\t1\t-1.5\t-2\tthe noun1 verb1\n"
                     "u1\t2\t-2\t-2.5\tthe noun2 verb1\n", encoding="utf-8")
    refs = tmp_path / "dev.ref"
    refs.write_text("u1 the noun1 verb1\n", encoding="utf-8")
    model = RNNLM.load(toy["model"])
    assert model.score(["the noun1 verb1"]).shape == (1,)
    rc = cli_main(["rescore", "--model", str(toy["model"]), "--nbest", str(nbest), "--format", "tsv",
                   "--refs", str(refs), "--lam", "0.5", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "install rnnlm-fast[rescore]" in lines[0], err
    assert out == ""  # nothing scored or written first
