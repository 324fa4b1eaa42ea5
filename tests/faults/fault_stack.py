"""The fault suite's deployment: its settings, its names, starting a Celery worker, and the
report lines the suite prints (shared by conftest.py and test_faults.py)."""

from __future__ import annotations

import re
from pathlib import Path

from conditions import wait_until
from deployment.airflow_deployment import AirflowDeployment
from deployment.services import Service

FAULTS = Path(__file__).resolve().parent
DAG_ID = "craft_faults"
WORKERS = ("worker-a", "worker-b")
#: The first triggerer has the machine's hostname in Airflow's records, the second its name.
TRIGGERERS = ("triggerer", "triggerer-b")
#: Where ``worker_hostname.py`` is: the workers' and second triggerer's ``hostname_callable``.
HOSTNAME_MODULE_DIR = FAULTS.parent / "deployment"

#: Lines the suite prints in pytest's summary: one per fault.
REPORT: list[str] = []

AIRFLOW_SETTINGS = {
    # More than the workers' 6 slots: some tasks wait in Redis, where a restart loses them.
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "3",
    # A killed triggerer's triggers go to the other one once its heartbeat is this old.
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
    # A task whose Celery worker was killed stops heartbeating: the scheduler fails its try (to
    # be retried) after this long instead of the default 300 s.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    # A Celery message lost with Redis's memory leaves its task queued: the scheduler requeues
    # it after this long instead of the default 600 s (checked every 120 s by default).
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "45",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
}
#: The connection's retry budget outlasts a platform restart (a graceful one waits for the
#: running executions to end) and a refused connection of a task that started meanwhile.
CONNECTION_EXTRA = {"max_retries": 60, "max_retry_seconds": 240, "connect_retry_seconds": 120}


def named(name: str) -> dict[str, str]:
    """The environment giving a worker or triggerer its own hostname in Airflow's records."""
    return {
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_hostname.hostname",
        "PYTHONPATH": str(HOSTNAME_MODULE_DIR),
        "CRAFT_DEPLOY_WORKER_HOSTNAME": name,
    }


def start_worker(deployment: AirflowDeployment, name: str) -> Service:
    command = ["celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs"]
    return deployment.start(name, *command, "--without-mingle", "--without-gossip", env=named(name))


def wait_worker_ready(worker: Service, since: int = 0) -> None:
    """The worker's log says ``ready`` after byte ``since``."""
    wait_until(
        lambda: worker.check_alive() or re.search(r"@\S+ ready\.", worker.log_text()[since:]),
        timeout=180,
        what=f"celery {worker.name} to be ready",
    )
