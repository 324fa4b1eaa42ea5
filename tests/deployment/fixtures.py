"""Session fixtures of a real deployment, shared by tests/deployment and tests/browser (each
conftest imports them): PostgreSQL, the embedded platform, a LocalExecutor Airflow deployment."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import stack
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.services import PostgresServer
from deployment.timings import phase, report

from craft_local.server import EmbeddedPlatform, free_port


def print_phases(terminalreporter: pytest.TerminalReporter) -> None:
    """The timings of the session's phases, in pytest's summary."""
    terminalreporter.section("deployment phases")
    for line in report():
        terminalreporter.write_line(line)
    for root in ROOTS:
        if root.exists():
            terminalreporter.write_line(f"processes' logs and data kept in {root}")


ROOTS: list[Path] = []


@pytest.fixture(scope="session")
def deploy_root(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A folder for the session's servers: removed at the end unless a test failed."""
    stack.assert_installed_provider()
    root = Path(tempfile.mkdtemp(prefix="craft-deployment-"))
    # The platform runs pipeline code as a user of its own when it runs as root: the test
    # pipelines must reach their gate files here by name (not list the folder).
    root.chmod(0o711)
    ROOTS.append(root)
    yield root
    if not request.session.testsfailed:
        shutil.rmtree(root, ignore_errors=True)


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
def example_runs(local_deployment: tuple[AirflowDeployment, AirflowAPI]) -> dict[str, str]:
    """dag_id -> run_id: each example DAG triggered once, all at the same time, and waited for."""
    _, api = local_deployment
    runs = {}
    with phase(f"run the {len(stack.RUN_ONCE_EXAMPLE_DAG_IDS)} example DAGs (at once)"):
        for dag_id in stack.RUN_ONCE_EXAMPLE_DAG_IDS:
            runs[dag_id] = api.trigger(dag_id)
        for dag_id, run_id in runs.items():
            api.wait_run(dag_id, run_id, timeout=420)
    return runs
