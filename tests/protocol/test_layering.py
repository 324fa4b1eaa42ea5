"""``protocol/`` depends only on itself and ``craft_airflow.errors``: no Airflow, no transport, no
other provider module (the hooks and routes build on it, never the other way round)."""

from __future__ import annotations

import ast
from pathlib import Path

import craft_airflow.protocol

PROTOCOL_DIR = Path(craft_airflow.protocol.__file__).parent
ALLOWED = ("craft_airflow.protocol", "craft_airflow.errors")
FORBIDDEN_THIRD_PARTY = ("airflow", "requests", "aiohttp", "h11")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from`` statement of ``path`` names, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the protocol package
                found.append((node.lineno, "craft_airflow.protocol." + (node.module or "")))
            elif node.module == "craft_airflow":
                found += [(node.lineno, f"craft_airflow.{alias.name}") for alias in node.names]
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def test_protocol_imports_only_itself_and_errors() -> None:
    offending = [
        f"{path.name}:{line}: {module}"
        for path in sorted(PROTOCOL_DIR.glob("*.py"))
        for line, module in imported_modules(path)
        if (module.startswith("craft_airflow") and not module.startswith(ALLOWED))
        or module.split(".")[0] in FORBIDDEN_THIRD_PARTY
    ]
    assert offending == []


def test_the_scan_sees_a_forbidden_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "def f():\n    from craft_airflow.connection import CraftConnectionConfig\n"
        "from craft_airflow import names\nimport airflow.sdk\n"
    )
    assert sorted(m for _, m in imported_modules(planted)) == [
        "airflow.sdk",
        "craft_airflow.connection",
        "craft_airflow.names",
    ]
