"""A real deployment: PostgreSQL, the embedded platform and Airflow's components as separate
processes on 127.0.0.1, with the provider installed (not editable) in the running venv.

``make test-deployment`` runs this folder. The LocalExecutor deployment is started once for the
session on first use; the Celery one lives for its module only (``test_deployment_celery.py`` runs
first, by name, so the two never run at once on a small machine).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from craft_airflow.local.server import EmbeddedPlatform, free_port
from deployment import stack
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.services import PostgresServer
from deployment.timings import phase, report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("deployment phases")
    for line in report():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def deploy_root() -> Path:
    stack.assert_installed_provider()
    return Path(tempfile.mkdtemp(prefix="craft-deployment-"))


@pytest.fixture(scope="session")
def postgres(deploy_root: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(free_port(), deploy_root / "postgres.log")
    try:
        with phase("start PostgreSQL (initdb + postgres)"):
            server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def platform(deploy_root: Path) -> Iterator[EmbeddedPlatform]:
    with stack.embedded_platform(deploy_root) as running:
        yield running


@pytest.fixture(scope="session")
def local_deployment(
    deploy_root: Path, postgres: PostgresServer, platform: EmbeddedPlatform
) -> Iterator[tuple[AirflowDeployment, AirflowAPI]]:
    with stack.airflow_deployment("local-executor", deploy_root, postgres, platform) as running:
        yield running


@pytest.fixture(scope="session")
def airflow_api(local_deployment: tuple[AirflowDeployment, AirflowAPI]) -> AirflowAPI:
    return local_deployment[1]
