"""The package's shape: one import package, layers the build enforces, short functions, and an
ARCHITECTURE layout that matches what is installed."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_FUNCTION_LINES = 80


def long_functions(*folders: str) -> list[str]:
    """Functions longer than MAX_FUNCTION_LINES, from the ``def`` line to the end (decorators
    excluded), as ``path:line name (length)``."""
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    return found


def test_no_function_is_longer_than_80_lines():
    assert long_functions("moviestream", "bench") == []


def test_the_measure_counts_from_def_to_end_without_decorators(tmp_path, monkeypatch):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES - 1))
    (tmp_path / "m.py").write_text(
        f"@decorator\n@another\ndef fits():\n{body}\n\ndef over():\n{body}\n    x = 0\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert long_functions(".") == ["m.py:84 over (81)"]  # fits: decorators and 80 lines


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess:
    """import-linter with the project's contracts, on the moviestream found in ``package_parent``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--config", str(ROOT / "pyproject.toml")],
        cwd=package_parent,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(package_parent)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        ROOT / "moviestream", parent / "moviestream", ignore=shutil.ignore_patterns("__pycache__")
    )
    return parent


@pytest.mark.tools
def test_the_package_keeps_its_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def with_import(package_copy: Path, module: str, imported: str) -> subprocess.CompletedProcess:
    """lint-imports on the copy with ``module`` importing ``imported`` inside a function, as a
    shortcut would; the module is put back afterwards."""
    path = package_copy.joinpath(*module.split(".")).with_suffix(".py")
    original = path.read_text()
    package, _, name = imported.rpartition(".")
    path.write_text(
        original + f"\n\ndef _shortcut():\n    from {package} import {name}\n\n    return {name}\n"
    )
    try:
        return lint_imports(package_copy)
    finally:
        path.write_text(original)


@pytest.mark.tools
def test_an_upward_import_breaks_the_layers_contract(package_copy):
    result = with_import(package_copy, "moviestream.core.record", "moviestream.warehouse.contract")
    assert result.returncode == 1
    assert "Each layer imports only the layers below it BROKEN" in result.stdout
    assert "moviestream.core.record -> moviestream.warehouse.contract" in result.stdout


@pytest.mark.tools
def test_a_cycle_inside_a_package_breaks_the_acyclic_contract(package_copy):
    result = with_import(package_copy, "moviestream.warehouse.contract", "moviestream.warehouse.postgres")
    assert result.returncode == 1
    assert "No import cycles between the modules of any package BROKEN" in result.stdout


UV = Path(sys.executable).parent / "uv"


@pytest.fixture(scope="module")
def wheel_path(tmp_path_factory) -> Path:
    """The wheel ``pip install .`` would install, built from the checkout."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [str(UV), "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        capture_output=True,
        check=True,
        timeout=600,
    )
    (path,) = out.glob("moviestream-*.whl")
    return path


@pytest.fixture(scope="module")
def wheel(wheel_path) -> zipfile.ZipFile:
    return zipfile.ZipFile(wheel_path)


def test_the_distribution_installs_one_package_and_one_command(wheel):
    names = wheel.namelist()
    top_levels = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_levels == {"moviestream"}
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert wheel.read(entry_points).decode().split() == [
        "[console_scripts]",
        "moviestream",
        "=",
        "moviestream.cli:run",
    ]
    # The data files the code reads travel with it; the benchmarks and the tests do not.
    for data in ("moviestream/core/resources.json", "moviestream/rules/movies.dqdl", "moviestream/warehouse/sql/stage.sql",
                 "moviestream/core/eventbridge/pipeline_breach.json", "moviestream/backfill/aws/state_machine.asl.json",
                 "moviestream/devstack/localstack-requirements.lock"):  # fmt: skip
        assert data in names, data


def test_the_architecture_layout_names_every_installed_package(wheel):
    packages = {n.split("/")[1] for n in wheel.namelist() if re.fullmatch(r"moviestream/\w+/__init__\.py", n)}
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    layout = text[text.index("## Layout") :]
    layout = layout[: layout.index("\n## ", 4)]
    documented = set(re.findall(r"^\| `moviestream\.(\w+)`", layout, re.M))
    assert documented == packages


@pytest.mark.tools
def test_the_installed_package_runs_away_from_the_checkout(wheel_path, tmp_path):
    """The wheel installed into a new virtual environment (its dependencies lent by the
    project's, through a .pth line), run from a folder that is not the checkout."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(wheel_path)],
                   check=True, timeout=300)  # fmt: skip
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True).strip())  # fmt: skip
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "click").is_dir())
    (site / "dependencies.pth").write_text(f"{deps}\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "moviestream"), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    where = subprocess.check_output(
        [str(python), "-c", "import moviestream; print(moviestream.__file__)"],
        cwd=tmp_path,
        env=env,
        text=True,
    )
    assert where.startswith(str(site))  # the installed copy, not the checkout's
    assert run("--help").returncode == 0
    rules = site / "moviestream" / "rules" / "movies.dqdl"
    assert run("quality", "lint", str(rules)).returncode == 0  # the shipped rulesets and catalogue
    status = run("stack", "status")
    assert status.returncode == 3, status.stderr  # nothing runs: the documented code
    assert f"{tmp_path}/state/moviestream/logs/" in status.stdout  # its state outside the package
