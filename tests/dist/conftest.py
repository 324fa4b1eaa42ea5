"""The built distributions (``make dist``) and a fresh venv holding the wheel next to Airflow.

The figures (each step's wall time, and which of the extra's distributions Airflow brings by
itself) are printed in pytest's terminal summary.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from venvs import DIST, PLATFORM_DEPENDENCIES, Timed, make_venv, uv_install

FIGURES: pytest.StashKey[dict[str, Any]] = pytest.StashKey()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES] = {"timings_s": {}}


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES, {})
    if figures.get("timings_s"):
        terminalreporter.write_sep("=", "craft-airflow distribution figures")
        terminalreporter.write_line(json.dumps(figures, indent=2))


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.config.stash[FIGURES]


@pytest.fixture(scope="session")
def timed(figures: dict[str, Any]) -> Timed:
    return Timed(figures["timings_s"])


def _one(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {DIST} (run `make dist`), found {found}"
    return found[0]


@pytest.fixture(scope="session")
def wheel() -> Path:
    return _one("craft_airflow-*.whl")


@pytest.fixture(scope="session")
def sdist() -> Path:
    return _one("craft_airflow-*.tar.gz")


@pytest.fixture(scope="session")
def airflow_venv(
    tmp_path_factory: pytest.TempPathFactory, timed: Timed, wheel: Path, figures: dict[str, Any]
) -> Iterator[Path]:
    """``pip install <wheel> apache-airflow`` (the locked Airflow) in a fresh venv; its ``bin``
    folder."""
    bin_dir = make_venv(timed, tmp_path_factory.mktemp("dist") / "venv", "wheel + airflow")
    uv_install(
        timed,
        "wheel + airflow: uv pip install <wheel> apache-airflow",
        bin_dir,
        str(wheel),
        "apache-airflow",
    )
    code = (
        "import importlib.metadata as m, json\n"
        "def version(name):\n"
        "    try:\n"
        "        return m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        return None\n"
        f"print(json.dumps({{n: version(n) for n in {PLATFORM_DEPENDENCIES!r}}}))\n"
    )
    result = subprocess.run(
        [str(bin_dir / "python"), "-c", code], capture_output=True, text=True, timeout=60
    )
    figures["extra's distributions brought by apache-airflow alone"] = json.loads(result.stdout)
    yield bin_dir
