"""A user kills a deferred Craft task (marks it failed through the REST API, as the UI does): the
triggerer runs the trigger's ``on_kill``, and the task log says that the execution keeps running
and where to see it. The platform has no cancel call: the execution does keep running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import PlatformAPI
from deployment.timings import phase

from craft_local.server import EmbeddedPlatform

DAG_ID = "craft_deployment_kill"
TASK_ID = "wait_at_gate"


@pytest.fixture
def platform_api(platform: EmbeddedPlatform) -> Iterator[PlatformAPI]:
    client = PlatformAPI(platform)
    yield client
    client.close()


def test_killing_a_deferred_task_logs_that_its_execution_keeps_running(
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    platform: EmbeddedPlatform,
    platform_api: PlatformAPI,
    deploy_root: Path,
) -> None:
    deployment, api = local_deployment
    gate = deploy_root / "gate-kill"
    run_id = api.trigger(DAG_ID, conf={"gate": str(gate)})

    def state() -> str | None:
        return api.task_states(DAG_ID, run_id)[(TASK_ID, -1)]

    with phase("kill: the task defers"):
        wait_until(lambda: state() == "deferred", timeout=300, what="the task to defer")
    execution_id = api.xcom(DAG_ID, run_id, TASK_ID, "execution_id")
    url = f"{platform.url}/executions/{execution_id}"
    task_logs = deployment.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"

    # A task is `deferred` in the database before the triggerer runs its trigger; a kill before
    # that has no trigger to call on_kill on. The triggerer opens the trigger's own log file with
    # "trigger <dag>/<run>/<task>/... starting".
    def trigger_runs() -> bool:
        return any(
            " starting" in f.read_text(errors="replace")
            for f in task_logs.glob(f"task_id={TASK_ID}/*.log.trigger.*.log")
        )

    with phase("kill: the trigger runs"):
        wait_until(trigger_runs, timeout=120, what="the triggerer to start the task's trigger")

    with phase("kill: marked failed, on_kill logs"):
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}"
        api.send("PATCH", path, {"new_state": "failed"})
        said = f"execution {execution_id} keeps running; see it at {url}."

        def task_log() -> str:
            # Through Airflow's REST API, or the task's log files it serves from (the trigger's
            # part stays in its own file once the trigger is gone).
            files = sorted(task_logs.glob(f"task_id={TASK_ID}/**/*.log*"))
            return api.task_log(DAG_ID, run_id, TASK_ID) + "".join(
                f.read_text(errors="replace") for f in files
            )

        wait_until(
            lambda: said in task_log(),
            timeout=120,
            what="the task log to say the execution keeps running",
        )
    log = task_log()
    assert "The Craft AI platform has no call to cancel an execution" in log
    assert state() == "failed"
    # What the log says is true: the execution runs on, and ends when its gate opens.
    (execution,) = [e for e in platform_api.executions("gate") if e["execution_id"] == execution_id]
    assert execution["status"] == "Running"
    gate.touch()
    wait_until(
        lambda: any(
            e["execution_id"] == execution_id and e["status"] == "Succeeded"
            for e in platform_api.executions("gate")
        ),
        timeout=120,
        what="the execution to end once its gate opened",
    )
    assert state() == "failed"  # nothing resumed the killed task
