"""The layer contracts of docs/architecture.md (import-linter, configured in pyproject.toml) hold on the code,
and they can fail: a copy of the package with one wrong-way import breaks the contract it crosses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "fabgrid"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed (dev extra)")


def _lint(package_parent: Path, cwd: Path, config: Path = ROOT / "pyproject.toml") -> subprocess.CompletedProcess[str]:
    """lint-imports with the contracts of `config`, importing `fabgrid` from `package_parent`."""
    env = {**os.environ, "PYTHONPATH": str(package_parent), "COLUMNS": "200"}  # one line per contract
    return subprocess.run([str(LINT_IMPORTS), "--no-logo", "--no-cache", str(config)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _contracts_tolerating_stale_ignores(path: Path) -> Path:
    """The repository's contracts as an INI file in which an ignore that matches nothing is not an error, so that
    the wrong-way check does not depend on the ignore list being exact while others shrink it."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    lines = ["[importlinter]", f"root_package = {conf['root_package']}",
             f"include_external_packages = {conf.get('include_external_packages', False)}"]
    for c in conf["contracts"]:
        lines.append(f"[importlinter:contract:{c['id']}]")
        for key, value in {**c, "unmatched_ignore_imports_alerting": "none"}.items():
            if key == "id":
                continue
            text = "".join(f"\n    {v}" for v in value) if isinstance(value, list) else f" {value}"
            lines.append(f"{key} ={text}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _python_only(directory: str, names: list[str]) -> set[str]:
    # the import graph needs the modules only, not the shipped data, templates or assets
    return {n for n in names if n == "__pycache__" or (Path(directory, n).is_file() and not n.endswith(".py"))}


def test_contracts_hold() -> None:
    run = _lint(PACKAGE.parent, ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(("module", "source", "contract"), [
    ("geometry/_wrong_way.py", "from fabgrid.store import db\n", "Engines never import the store"),
    ("nesting/_wrong_way.py", "from fabgrid.data import load_catalog\n", "Engines never import the store"),
    ("costing/_wrong_way.py", "from fabgrid.nesting import volume\n", "Engines and the store are independent"),
    ("api/_wrong_way.py", "from fabgrid.web import session\n", "api and web are siblings"),
    ("web/_wrong_way.py", "from fabgrid.store.uow import UnitOfWork\n", "Entry points call services"),
    ("domain/_wrong_way.py", "import fabgrid.services.orders\n", "Layers"),
    ("services/_wrong_way.py", "from sqlalchemy import select\n", "Services never import SQLAlchemy"),
    ("services/_wrong_way2.py", "from fabgrid.store.tables import PartRow\n", "Services never import SQLAlchemy"),
])
def test_a_wrong_way_import_breaks_its_contract(tmp_path: Path, module: str, source: str, contract: str) -> None:
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "fabgrid", ignore=_python_only)
    (copy / "fabgrid" / module).write_text(f'"""A deliberate wrong-way import."""\n\n{source}', encoding="utf-8")
    run = _lint(copy, tmp_path, _contracts_tolerating_stale_ignores(tmp_path / ".importlinter"))
    assert run.returncode == 1, run.stdout + run.stderr
    wrong = "fabgrid." + module.removesuffix(".py").replace("/", ".")
    assert f"{wrong} ->" in run.stdout, run.stdout
    broken = [line for line in run.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), run.stdout
