"""CeleryExecutor with a real Redis broker and two Celery workers: how a user scales past one
machine. A mapped DAG of 20 Craft runs spreads over both workers.

This module runs first (by name) and stops its deployment at its end, before the LocalExecutor
one starts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conditions import wait_until
from deployment import stack
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.services import (
    LOOPBACK,
    PostgresServer,
    RedisServer,
    listening_sockets_of_descendants,
)
from deployment.timings import phase

from craft_local.server import EmbeddedPlatform, free_port

DAG_ID = "craft_deployment_celery"
TASK_ID = "run_slow"
COUNT = 20
WORKERS = ("worker-a", "worker-b")


@pytest.fixture(scope="module")
def celery_deployment(
    deploy_root: Path, postgres: PostgresServer, platform: EmbeddedPlatform
) -> Iterator[tuple[AirflowDeployment, AirflowAPI]]:
    redis = RedisServer(free_port(), deploy_root / "redis.log", deploy_root)
    with phase("celery: start redis"):
        redis.start()
    try:
        settings = {
            "AIRFLOW__CELERY__BROKER_URL": redis.url,
            # Task results in the metadata database (stack names it after the deployment).
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
            + postgres.dsn("celery_executor").replace("postgresql://", "postgresql+psycopg2://"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        }
        with stack.airflow_deployment(
            "celery-executor",
            deploy_root,
            postgres,
            platform,
            executor="CeleryExecutor",
            extra_env=settings,
        ) as (deployment, api):
            with phase("celery: start two workers"):
                workers = [
                    deployment.start(
                        name,
                        "celery",
                        "worker",
                        "--celery-hostname",
                        f"{name}@%h",
                        "--skip-serve-logs",
                        "--without-mingle",
                        "--without-gossip",
                        env={
                            # Two workers on one machine report distinct task-instance hostnames.
                            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_hostname.hostname",
                            "PYTHONPATH": str(Path(__file__).parent),
                            "CRAFT_DEPLOY_WORKER_HOSTNAME": name,
                        },
                    )
                    for name in WORKERS
                ]
                for worker in workers:
                    wait_until(
                        lambda w=worker: (
                            w.check_alive() or re.search(r"@\S+ ready\.", w.log_text())
                        ),
                        timeout=180,
                        what=f"celery {worker.name} to be ready",
                    )
            yield deployment, api
    finally:
        redis.stop()


def test_only_loopback_is_bound(celery_deployment, postgres, platform) -> None:
    deployment, _ = celery_deployment
    sockets = listening_sockets_of_descendants()
    addresses = {address for address, _ in sockets}
    for port in (deployment.api_port, postgres.port, platform.port):
        assert f"{LOOPBACK}:{port}" in addresses, (port, sockets)
    assert all(address.startswith(f"{LOOPBACK}:") for address in addresses), sockets


def test_mapped_runs_spread_over_two_celery_workers(celery_deployment) -> None:
    _, api = celery_deployment
    with phase(f"celery: {COUNT} mapped Craft runs"):
        run_id = api.trigger(DAG_ID)
        assert api.wait_run(DAG_ID, run_id, timeout=420) == "success", api.task_states(
            DAG_ID, run_id
        )
    tis = [ti for ti in api.task_instances(DAG_ID, run_id) if ti["task_id"] == TASK_ID]
    assert sorted(ti["map_index"] for ti in tis) == list(range(COUNT))
    assert {ti["state"] for ti in tis} == {"success"}
    per_worker = Counter(ti["hostname"] for ti in tis)
    assert set(per_worker) == set(WORKERS), per_worker
    assert min(per_worker.values()) >= 2, per_worker
    for index in range(COUNT):
        outputs = api.xcom(DAG_ID, run_id, TASK_ID, map_index=index)
        assert outputs == {"slept": 1 + index % 2}
        assert api.xcom(DAG_ID, run_id, TASK_ID, "execution_id", index).startswith("slow-")
    print(f"tasks per Celery worker: {dict(per_worker)}")
