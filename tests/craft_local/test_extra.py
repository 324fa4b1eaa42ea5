"""The ``local`` extra: what it requires, the install hint, and that the provider never imports
the embedded platform."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from venvs import PLATFORM_DEPENDENCIES

import craft_airflow
from craft_local.extra import (
    INSTALL_HINT,
    extra_requirements,
    missing_requirements,
    require_extra,
)

PACKAGE = Path(craft_airflow.__file__).resolve().parent


def test_the_platform_dependencies_come_only_with_the_extra() -> None:
    requirements = metadata.requires("craft-airflow") or []
    assert set(extra_requirements(requirements)) == PLATFORM_DEPENDENCIES
    unconditional = {line.split(";")[0] for line in requirements if ";" not in line}
    assert not {
        name
        for name in PLATFORM_DEPENDENCIES
        if any(line.lower().startswith(name) for line in unconditional)
    }


def test_the_test_extra_pulls_in_the_local_extra() -> None:
    requirements = metadata.requires("craft-airflow") or []
    assert 'craft-airflow[local]; extra == "test"' in requirements
    assert missing_requirements() == []


def test_a_missing_distribution_gets_the_install_hint() -> None:
    requirements = [
        'fastapi>=0.110; extra == "local"',
        'no-such-distribution-7f3e>=1.0; extra == "local"',
        'also-not-installed-7f3e; extra == "test"',
        "requests>=2.31",
    ]
    assert extra_requirements(requirements) == ["fastapi", "no-such-distribution-7f3e"]
    assert missing_requirements(requirements) == ["no-such-distribution-7f3e"]
    with pytest.raises(SystemExit) as raised:
        require_extra(requirements)
    message = str(raised.value.code)
    assert "missing: no-such-distribution-7f3e" in message
    assert INSTALL_HINT in message
    assert INSTALL_HINT == 'pip install "craft-airflow[local]"'


def test_the_package_is_the_platform_not_its_tests_folder() -> None:
    """tests/craft_local/ (on sys.path through tests/) never stands in for the package."""
    import craft_local.routers

    package = Path(craft_airflow.__file__).resolve().parents[1] / "craft_local"
    assert craft_local.__file__ is not None
    assert Path(craft_local.__file__).resolve() == package / "__init__.py"
    assert Path(craft_local.routers.__file__ or "").resolve() == package / "routers" / "__init__.py"


def test_the_command_runs_when_the_extra_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "craft_local", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--sdk-token" in result.stdout


def _imported_modules(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Absolute names of the modules ``path`` (under ``root``) imports: relative imports
    resolved, and ``importlib.import_module("...")`` / ``__import__("...")`` of a literal."""
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def _platform_imports(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """The modules of the embedded platform (``craft_local``) that ``path`` imports."""
    return sorted(n for n in _imported_modules(path, root) if n.split(".")[0] == "craft_local")


def test_no_provider_module_imports_the_embedded_platform() -> None:
    provider_modules = list(PACKAGE.rglob("*.py"))
    assert len(provider_modules) > 10  # the scan sees the provider
    assert not (PACKAGE / "local").exists()  # the platform is its own package, beside
    offenders = {
        str(path.relative_to(PACKAGE.parent)): _platform_imports(path) for path in provider_modules
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_import_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "craft_airflow" / "operators" / "sneaky.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "import importlib\n"
        "import craft_local\n"
        "import craft_local.server\n"
        "from craft_local import app\n"
        "from craft_local.cli import main\n"
        "import craft_localish\n"
        "def later():\n"
        "    importlib.import_module('craft_local.demo')\n"
        "    __import__('craft_local.state')\n"
    )
    assert _platform_imports(module, tmp_path) == [
        "craft_local",
        "craft_local.app",
        "craft_local.cli",
        "craft_local.cli.main",
        "craft_local.demo",
        "craft_local.server",
        "craft_local.state",
    ]
