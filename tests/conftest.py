"""Test-session set-up shared by every test folder.

Airflow reads its configuration when first imported, so the environment is set here, at import
time, before any test module imports airflow.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
TESTS = REPO_ROOT / "tests"

# tests/ is on sys.path (pytest's pythonpath) and holds tests/craft_local/, the platform's tests.
# An editable install finds the craft_local package only after every sys.path entry, so the
# test folder would stand in for it as a namespace package (and tests/craft_local/routers/ for
# its routers). Import the package first, without tests/ on the path; it then stays in
# sys.modules for the session (tests/craft_local/test_extra.py checks which one it is).
_path = sys.path[:]
sys.path[:] = [entry for entry in _path if Path(entry).resolve() != TESTS]
try:
    import craft_local  # noqa: F401
    from craft_local.examples import EXAMPLE_PIPELINES
finally:
    sys.path[:] = _path

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="craft-airflow-test-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"

SDK_TOKEN = "test-sdk-token-3f9a1c7e"

# tests/kubernetes needs a cluster: collected only when `make test-kubernetes` provides one.
collect_ignore = [] if os.environ.get("CRAFT_TEST_KUBECONFIG") else ["kubernetes"]


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """A migrated SQLite metadata database for the whole session."""
    from airflow.utils import db

    db.initdb()
    return airflow_home / "airflow.db"


@pytest.fixture(scope="session")
def craft_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One embedded platform for the session, serving the example pipelines over real HTTP."""
    from craft_local.server import EmbeddedPlatform

    data_dir = tmp_path_factory.mktemp("craft-platform")
    with EmbeddedPlatform(
        data_dir=data_dir, sdk_token=SDK_TOKEN, pipelines_dir=EXAMPLE_PIPELINES
    ) as platform:
        yield platform


@pytest.fixture
def log_secrets(monkeypatch: pytest.MonkeyPatch):
    """The registry of secrets redacted from error texts, restored after the test; gives
    :func:`~craft_airflow.errors.register_log_secrets`."""
    from craft_airflow import errors

    monkeypatch.setattr(errors, "_LOG_SECRETS", errors._LOG_SECRETS)
    return errors.register_log_secrets


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The chaos test's figures (``tests/chaos``), echoed in the summary (shown without ``-s``).

    The test records them as a report property: reports reach the controlling process also when
    pytest-xdist runs the test in a worker, and this hook is here, not in ``tests/chaos/``,
    because that process collects nothing and loads no conftest below this one.
    """
    for report in [
        *terminalreporter.stats.get("passed", []),
        *terminalreporter.stats.get("failed", []),
    ]:
        for name, text in getattr(report, "user_properties", ()):
            if name == "chaos_figures" and report.when == "call":
                terminalreporter.write_sep("=", "craft-airflow chaos figures")
                terminalreporter.write_line(text)
