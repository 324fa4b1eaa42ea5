"""Live logs in a real deployment (LocalExecutor, PostgreSQL, a triggerer of its own): a pipeline
prints a line every second for 20 s; while its execution still runs, the task's log read through
Airflow's REST API already shows some of those lines, for a deferred task (the triggerer follows
the logs) and for a task waiting on its worker. At the end every line is in the log once: the
end copied only the lines the live reading had not shown."""

from __future__ import annotations

import re

import pytest
from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import PlatformAPI
from deployment.timings import phase

from craft_airflow.names import LOG_CURSOR_KEY
from craft_airflow.protocol.logs import LogCursor
from craft_local.server import EmbeddedPlatform

DAG_ID = "craft_deployment_live_logs"
TASKS = ("deferred", "on_worker")
TICKS = 20


def ticks_in(log: str, task_id: str) -> list[int]:
    """The numbers of the pipeline's lines the task log shows, in the order shown."""
    return [int(n) for n in re.findall(rf"\[craft\] \S+ {task_id} tick (\d+)", log)]


@pytest.fixture(scope="module")
def live_run(
    local_deployment: tuple[AirflowDeployment, AirflowAPI], platform: EmbeddedPlatform
) -> dict[str, object]:
    """One run of the DAG; for each task the ticks its log showed while the execution ran."""
    _, api = local_deployment
    platform_api = PlatformAPI(platform)
    try:
        with phase("live logs: the two tasks while their executions run"):
            run_id = api.trigger(DAG_ID)
            seen_live: dict[str, list[int]] = {}

            def execution_of(task_id: str) -> str | None:
                if not api.has_xcom(DAG_ID, run_id, task_id, "execution_id"):
                    return None
                found = api.xcom(DAG_ID, run_id, task_id, "execution_id")
                return found if isinstance(found, str) else None

            for task_id in TASKS:

                def shown_while_running(task_id: str = task_id) -> list[int] | None:
                    execution_id = execution_of(task_id)
                    if execution_id is None:
                        return None
                    ticks = ticks_in(api.task_log(DAG_ID, run_id, task_id), task_id)
                    # Read the status after the log: still running means the log was read while
                    # the task waited.
                    status = platform_api.client.get(f"/api/v1/executions/{execution_id}")
                    assert status.json()["status"] in ("Pending", "Running"), (
                        f"{task_id}: the execution ended before its log showed a line: {ticks}"
                    )
                    return ticks or None

                seen_live[task_id] = wait_until(
                    shown_while_running, timeout=60, what=f"{task_id}: a live line", interval=0.5
                )
        with phase("live logs: the run ends"):
            state = api.wait_run(DAG_ID, run_id, timeout=300)
        deployment, _ = local_deployment
        return {
            "run_id": run_id,
            "triggerer_log": deployment.service("triggerer").log_text(),
            "cursor": api.xcom(DAG_ID, run_id, "deferred", LOG_CURSOR_KEY),
            "execution_id": api.xcom(DAG_ID, run_id, "deferred", "execution_id"),
            "state": state,
            "live": seen_live,
            "final": {t: api.task_log(DAG_ID, run_id, t) for t in TASKS},
            "states": api.task_states(DAG_ID, run_id),
        }
    finally:
        platform_api.close()


def test_the_deferred_task_s_cursor_is_kept_from_its_deferral(live_run):
    """The worker keeps the cursor as it defers: the trigger reads it back at its start (where
    a triggerer restart resumes), and the triggerer logs no "XCom not found" for it."""
    assert LogCursor.from_kept(live_run["cursor"], live_run["execution_id"]) is not None
    missing = [
        line
        for line in live_run["triggerer_log"].splitlines()
        if "XCom not found" in line and live_run["run_id"] in line
    ]
    assert not missing, missing


@pytest.mark.parametrize("task_id", TASKS)
def test_lines_show_in_the_task_log_while_the_execution_runs(live_run, task_id):
    live = live_run["live"][task_id]
    assert live, f"{task_id}: no line before the end"
    assert live == sorted(live)  # in order
    assert max(live) < TICKS - 1  # not all of them: shown while the pipeline was printing


@pytest.mark.parametrize("task_id", TASKS)
def test_at_the_end_every_line_is_in_the_log_once_in_order(live_run, task_id):
    assert live_run["state"] == "success", live_run["states"]
    final = live_run["final"][task_id]
    assert ticks_in(final, task_id) == list(range(TICKS))
    assert "Craft AI execution" in final and "-> Succeeded after" in final
