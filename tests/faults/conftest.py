"""A real Celery deployment under faults (``make test-faults``): PostgreSQL, Redis, two Celery
workers, two triggerers, scheduler, dag-processor, api-server and the embedded platform, each a
process of its own on 127.0.0.1 that the suite kills or restarts by its PID.

The settings below are those that let every task end as designed; each one names the fault it
answers (docs/faults.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import stack
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.fixtures import deploy_root, postgres, print_phases  # noqa: F401 (fixtures)
from deployment.services import PostgresServer, RedisServer
from deployment.timings import phase
from faults.fault_stack import (
    AIRFLOW_SETTINGS,
    CONNECTION_EXTRA,
    DAG_ID,
    FAULTS,
    REPORT,
    TRIGGERERS,
    WORKERS,
    named,
    start_worker,
    wait_worker_ready,
)

from craft_local.server import EmbeddedPlatform, free_port


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("faults")
    for line in REPORT:
        terminalreporter.write_line(line)
    print_phases(terminalreporter)


@pytest.fixture(scope="session")
def platform(deploy_root: Path) -> Iterator[EmbeddedPlatform]:  # noqa: F811 (deploy_root)
    with stack.embedded_platform(
        deploy_root,
        pipeline_folders=[FAULTS / "pipelines"],
        # A graceful restart lets the running executions (a few seconds each) end.
        shutdown_grace_seconds=60,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def redis(deploy_root: Path) -> Iterator[RedisServer]:  # noqa: F811 (deploy_root)
    server = RedisServer(free_port(), deploy_root / "redis.log", deploy_root)
    with phase("faults: start redis"):
        server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def faults_deployment(
    deploy_root: Path,  # noqa: F811
    postgres: PostgresServer,  # noqa: F811
    platform: EmbeddedPlatform,
    redis: RedisServer,
) -> Iterator[tuple[AirflowDeployment, AirflowAPI]]:
    settings = {
        **AIRFLOW_SETTINGS,
        "AIRFLOW__CELERY__BROKER_URL": redis.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
        + postgres.dsn("faults").replace("postgresql://", "postgresql+psycopg2://"),
    }
    with stack.airflow_deployment(
        "faults",
        deploy_root,
        postgres,
        platform,
        executor="CeleryExecutor",
        extra_env=settings,
        dag_folders={"faults-dags": FAULTS / "dags"},
        dag_ids=[DAG_ID],
        connection_extra=CONNECTION_EXTRA,
    ) as (deployment, api):
        with phase("faults: second triggerer, two workers"):
            deployment.start(
                TRIGGERERS[1], "triggerer", "--skip-serve-logs", env=named(TRIGGERERS[1])
            )
            workers = [start_worker(deployment, name) for name in WORKERS]
            for worker in workers:
                wait_worker_ready(worker)
        yield deployment, api
