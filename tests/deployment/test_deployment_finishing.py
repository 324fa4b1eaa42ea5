"""Finishing on the triggerer in a real deployment (LocalExecutor, PostgreSQL, a triggerer of its
own): each case of ``docs/finishing-on-the-triggerer.md`` proved by which path the task took and
by what the user sees.

One run of ``craft_deployment_finishing`` holds every case as a parallel task. Which path a task
took is read from three observables that can each fail:

- the worker starts, one line each, written by the DAG's ``on_execute_callback``: one per try is
  a task that ended on the triggerer, two a task that resumed on a worker;
- the try's log files: the worker's ``attempt=N.log`` and the triggerer's
  ``attempt=N.log.trigger.<job>.log``, where the trigger says "Task ended on the triggerer";
- the provider's own line on the worker when it falls back ("resumes on a worker ...: reason").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import LINK_NAME, PlatformAPI
from deployment.test_deployment_example_dags import LINK_XCOM, stored_file
from deployment.timings import phase

from craft_airflow.protocol.outcomes import LOG_TAIL_HEADER
from craft_local.server import EmbeddedPlatform

DAG_ID = "craft_deployment_finishing"
ENDED_ON_TRIGGERER = "Task ended on the triggerer: success"
FALLBACK = "The task resumes on a worker when the execution ends: "
#: Tasks whose execution waits for the first gate, and their state at the end of the run.
GATED = {
    "default": "success",
    "multiple_outputs": "success",
    "success_callback": "success",
    "overridden": "success",
    "worker_resume": "success",
    "with_outlets": "success",
    "retried": "success",
    "failure_callback": "failed",
    "endpoint": "success",
    "sensor": "success",
    "soft_fail_sensor": "success",
    "mapped[0]": "success",
    "mapped[1]": "success",
}
#: The gated tasks that resume on a worker.
RESUMING = {"success_callback", "overridden", "worker_resume", "with_outlets", "soft_fail_sensor"}
FINAL_STATES = {
    **GATED,
    "timed_out": "failed",
    "start_for_sensor": "success",
    "read_back": "success",
}


@dataclass
class FinishingRun:
    deployment: AirflowDeployment
    api: AirflowAPI
    platform: PlatformAPI
    run_id: str

    def marks(self, task_id: str, kind: str) -> list[dict[str, Any]]:
        """The lines the DAG's callbacks of ``kind`` wrote for ``task_id``."""
        folder = self.deployment.home / "finishing-marks" / re.sub(r"[^\w.-]", "_", self.run_id)
        path = folder / f"{task_id}.{kind}"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def starts(self, task_id: str, map_index: int = -1) -> list[int]:
        """The try number of each worker start of ``task_id`` (of one mapped instance)."""
        return [
            line["try_number"]
            for line in self.marks(task_id, "start")
            if line["map_index"] == map_index
        ]

    def log_files(self, task_id: str, try_number: int = 1, map_index: int = -1) -> tuple[str, str]:
        """The try's worker log and its triggerer log(s), read from the shared log folder."""
        folder = self.deployment.home / "logs" / f"dag_id={DAG_ID}"
        (task_dir,) = folder.glob(f"run_id=*/task_id={task_id}")
        if map_index >= 0:
            task_dir /= f"map_index={map_index}"
        worker = task_dir / f"attempt={try_number}.log"
        triggers = sorted(task_dir.glob(f"attempt={try_number}.log.trigger.*.log"))
        return (
            worker.read_text() if worker.exists() else "",
            "".join(path.read_text() for path in triggers),
        )

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        return self.api.xcom(DAG_ID, self.run_id, task_id, key, map_index)

    def task_log(self, task_id: str, try_number: int = 1) -> str:
        """The try's log as the UI shows it (worker and triggerer parts)."""
        return self.api.task_log(DAG_ID, self.run_id, task_id, try_number)

    def execution(self, execution_id: str) -> dict[str, Any]:
        response = self.platform.client.get(f"/api/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())


def drained_deferrals(deployment: AirflowDeployment, run_id: str) -> set[str]:
    """The tasks of the run whose deferral's executor event the scheduler has taken in.

    A task's state is ``deferred`` seconds before the scheduler reads the executor's event of
    the worker that deferred it. If the task resumes on a worker and reaches ``running`` before
    that, Airflow 3.3 takes the stale event for an external change and fails the task
    (apache/airflow#72716). Opening the gate only after every event was read keeps this run off
    that race; a task that ends on the triggerer cannot meet it (see the docs).
    """
    log = (deployment.home / "processes" / "scheduler.log").read_text()
    pattern = (
        rf"TaskInstance Finished: dag_id={DAG_ID}, task_id=(\w+), run_id={re.escape(run_id)}, "
        r"[^\n]*?, state=deferred, [^\n]*?executor_state=success"
    )
    return set(re.findall(pattern, log))


@pytest.fixture(scope="module")
def finishing(
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    platform: EmbeddedPlatform,
    deploy_root: Path,
) -> Iterator[FinishingRun]:
    """One run of the DAG: every gated task deferred, then the gate opened; the timeout task
    fails before its own gate opens."""
    deployment, api = local_deployment
    gate, late_gate = deploy_root / "finishing-gate", deploy_root / "finishing-late-gate"
    platform_api = PlatformAPI(platform)
    run_id = api.trigger(DAG_ID, conf={"gate": str(gate), "late_gate": str(late_gate)})
    run = FinishingRun(deployment, api, platform_api, run_id)

    def states() -> dict[str, str | None]:
        """By task id, and ``task[i]`` for the mapped instance ``i``."""
        return {
            (t if m < 0 else f"{t}[{m}]"): s
            for (t, m), s in api.task_states(DAG_ID, run_id).items()
        }

    def all_deferred() -> bool:
        now = states()
        early = {t: s for t, s in now.items() if s in {"failed", "up_for_retry"}}
        assert not early, f"ended before the gate opened: {now}"
        return all(now.get(t) == "deferred" for t in [*GATED, "timed_out"])

    try:
        with phase(f"finishing: {len(GATED) + 1} tasks deferred"):
            wait_until(all_deferred, timeout=300, what=f"every task of {DAG_ID} to defer")
            wait_until(
                lambda: drained_deferrals(deployment, run_id) >= RESUMING,
                timeout=120,
                what="the scheduler to take in every deferral's executor event",
            )
        gate.touch()
        with phase("finishing: the timeout task fails, then the rest ends"):
            wait_until(
                lambda: states()["timed_out"] == "failed",
                timeout=120,
                what="the timeout task to fail on the triggerer",
            )
            late_gate.touch()
            assert api.wait_run(DAG_ID, run_id, timeout=300) == "failed"  # two tasks fail
        assert states() == FINAL_STATES
        yield run
    finally:
        gate.touch()
        late_gate.touch()
        platform_api.close()


def assert_ended_on_triggerer(run: FinishingRun, task_id: str, try_number: int = 1) -> str:
    """One worker start for the try, which deferred with no fallback line; the try's triggerer
    log, for the caller to check how the trigger ended the task."""
    worker, trigger = run.log_files(task_id, try_number)
    assert run.starts(task_id).count(try_number) == 1, run.starts(task_id)
    assert FALLBACK not in worker
    assert "Deferring until Craft AI execution" in worker
    return trigger


def assert_resumed_on_worker(run: FinishingRun, task_id: str, reason: str) -> str:
    """Two worker starts (submit, resume), the provider's fallback line with ``reason``, the
    trigger fired a plain event; the worker log."""
    worker, trigger = run.log_files(task_id)
    assert run.starts(task_id) == [1, 1]
    assert FALLBACK + reason in worker
    assert "Task ended on the triggerer" not in trigger
    assert f"Craft AI execution {run.xcom(task_id, 'execution_id')} succeeded" in worker
    return worker


def assert_outputs(run: FinishingRun, task_id: str, name: str) -> dict[str, Any]:
    """The return value, the file output stored, the execution id and link XComs."""
    outputs = run.xcom(task_id)
    execution_id = run.xcom(task_id, "execution_id")
    assert (outputs["name"], outputs["length"]) == (name, len(name))
    assert outputs["report"].endswith(f"/{task_id}/{execution_id}/report")
    assert stored_file(outputs["report"], run.deployment) == f"report of {name}\n"
    url = f"{run.platform.platform.url}/executions/{execution_id}"
    assert run.xcom(task_id, LINK_XCOM) == url
    assert run.api.extra_links(DAG_ID, run.run_id, task_id) == {LINK_NAME: url}
    return dict(outputs)


def test_default_ends_on_the_triggerer(finishing: FinishingRun) -> None:
    trigger = assert_ended_on_triggerer(finishing, "default")
    assert ENDED_ON_TRIGGERER in trigger
    assert_outputs(finishing, "default", "default")
    # The execution's logs, copied by the trigger, are in the task's log as the UI shows it.
    assert "[craft]" in trigger and "default passed the gate" in trigger
    assert "default passed the gate" in finishing.task_log("default")


def test_multiple_outputs_made_to_work(finishing: FinishingRun) -> None:
    assert ENDED_ON_TRIGGERER in assert_ended_on_triggerer(finishing, "multiple_outputs")
    outputs = assert_outputs(finishing, "multiple_outputs", "multiple_outputs")
    for name, value in outputs.items():
        assert finishing.xcom("multiple_outputs", name) == value


def test_a_downstream_task_pulls_the_values_the_triggerer_pushed(finishing: FinishingRun) -> None:
    read = finishing.xcom("read_back")
    assert read["outputs"] == finishing.xcom("default")
    assert read["outputs"]["name"] == "default"
    assert read["length"] == len("multiple_outputs")
    assert read["sensed"]["name"] == "sensed"
    assert read["id"] == finishing.xcom("default", "execution_id")


def test_mapped_instances_end_on_the_triggerer_with_their_own_xcoms(
    finishing: FinishingRun,
) -> None:
    execution_ids = set()
    for index in (0, 1):
        worker, trigger = finishing.log_files("mapped", map_index=index)
        assert finishing.starts("mapped", index) == [1]
        assert FALLBACK not in worker and "Deferring until Craft AI execution" in worker
        assert ENDED_ON_TRIGGERER in trigger
        outputs = finishing.xcom("mapped", map_index=index)
        execution_id = finishing.xcom("mapped", "execution_id", map_index=index)
        execution_ids.add(execution_id)
        assert (outputs["name"], outputs["length"]) == (f"mapped_{index}", len("mapped_0"))
        assert outputs["report"].endswith(f"/mapped/{index}/{execution_id}/report")
        assert stored_file(outputs["report"], finishing.deployment) == f"report of mapped_{index}\n"
        url = f"{finishing.platform.platform.url}/executions/{execution_id}"
        assert finishing.api.extra_links(DAG_ID, finishing.run_id, "mapped", index) == {
            LINK_NAME: url
        }
    assert len(execution_ids) == 2
    # A downstream task pulls both instances' values, in map order.
    assert finishing.xcom("read_back")["mapped"] == ["mapped_0", "mapped_1"]


def test_endpoint_operator_ends_on_the_triggerer(finishing: FinishingRun) -> None:
    assert ENDED_ON_TRIGGERER in assert_ended_on_triggerer(finishing, "endpoint")
    assert_outputs(finishing, "endpoint", "endpoint")


def test_sensor_ends_on_the_triggerer(finishing: FinishingRun) -> None:
    assert finishing.starts("start_for_sensor") == [1]
    assert ENDED_ON_TRIGGERER in assert_ended_on_triggerer(finishing, "sensor")
    execution_id = finishing.xcom("start_for_sensor")
    assert finishing.xcom("sensor", "execution_id") == execution_id
    outputs = finishing.xcom("sensor")
    assert (outputs["name"], outputs["length"]) == ("sensed", len("sensed"))
    assert stored_file(outputs["report"], finishing.deployment) == "report of sensed\n"


def test_soft_fail_sensor_resumes_on_the_worker(finishing: FinishingRun) -> None:
    assert_resumed_on_worker(finishing, "soft_fail_sensor", "soft_fail is applied only")
    outputs = finishing.xcom("soft_fail_sensor")
    assert (outputs["name"], outputs["length"]) == ("sensed", len("sensed"))
    assert "/soft_fail_sensor/" in outputs["report"]  # each task stores its own copy
    assert stored_file(outputs["report"], finishing.deployment) == "report of sensed\n"


def test_on_success_callback_resumes_on_the_worker(finishing: FinishingRun) -> None:
    assert_resumed_on_worker(finishing, "success_callback", "on_success_callback runs only")
    assert_outputs(finishing, "success_callback", "success_callback")
    assert [m["try_number"] for m in finishing.marks("success_callback", "success")] == [1]


def test_overridden_execute_complete_resumes_on_the_worker(finishing: FinishingRun) -> None:
    assert_resumed_on_worker(finishing, "overridden", "OverridingOperator overrides execute_compl")
    assert finishing.xcom("overridden")["overridden"] is True


def test_finish_on_triggerer_off_resumes_on_the_worker(finishing: FinishingRun) -> None:
    assert_resumed_on_worker(finishing, "worker_resume", "finish_on_triggerer is off")
    assert_outputs(finishing, "worker_resume", "worker_resume")


def test_outlets_resume_on_the_worker_and_record_the_asset_event(finishing: FinishingRun) -> None:
    assert_resumed_on_worker(finishing, "with_outlets", "outlets (asset events)")
    assert_outputs(finishing, "with_outlets", "with_outlets")
    events = finishing.api.get(
        "/assets/events", source_dag_id=DAG_ID, source_task_id="with_outlets"
    )["asset_events"]
    assert [(e["source_run_id"], e["extra"]) for e in events] == [
        (finishing.run_id, {"execution_id": finishing.xcom("with_outlets", "execution_id")})
    ]


def test_failed_try_ends_on_the_triggerer_and_the_retry_runs_a_new_execution(
    finishing: FinishingRun,
) -> None:
    trigger = assert_ended_on_triggerer(finishing, "retried", 1)
    # The failure message and the log tail, in the first try's log.
    failure = trigger[trigger.index("Task failed: CraftExecutionFailed") :]
    assert "retried failed on purpose" in failure
    assert LOG_TAIL_HEADER in failure and "retried is about to fail" in failure
    assert "retried failed on purpose" in finishing.task_log("retried", 1)
    tries = finishing.api.get(
        f"/dags/{DAG_ID}/dagRuns/{finishing.run_id}/taskInstances/retried/tries"
    )
    assert [(t["try_number"], t["state"]) for t in tries["task_instances"]] == [
        # The first try is recorded "failed", not "up_for_retry" as after a worker's failure:
        # Airflow records the try while its state is still "deferred" (see the docs).
        (1, "failed"),
        (2, "success"),
    ]
    # The second try started on a worker, found the first execution failed, ran a new one.
    assert finishing.starts("retried") == [1, 2]
    worker_1, _ = finishing.log_files("retried", 1)
    (first,) = set(re.findall(r"Craft AI execution (finishing-\w{6})", worker_1))
    second = finishing.xcom("retried", "execution_id")
    assert first != second
    assert finishing.execution(first)["status"] == "Failed"
    assert finishing.execution(second)["status"] == "Succeeded"
    assert finishing.xcom("retried")["name"] == "retried"
    # on_retry_callback: run by the dag-processor, like on_failure_callback.
    (mark,) = wait_until(
        lambda: finishing.marks("retried", "retry"), timeout=120, what="the on_retry_callback"
    )
    assert (mark["try_number"], mark["process"]) == (1, ["dag-processor"])


def test_on_failure_callback_runs_in_the_dag_processor(finishing: FinishingRun) -> None:
    trigger = assert_ended_on_triggerer(finishing, "failure_callback")
    assert "failure_callback failed on purpose" in trigger
    (mark,) = wait_until(
        lambda: finishing.marks("failure_callback", "failure"),
        timeout=120,
        what="the on_failure_callback to run",
    )
    # Run by the dag-processor, with a context rebuilt there: no exception key (see the docs).
    assert mark == {
        "try_number": 1,
        "map_index": -1,
        "process": ["dag-processor"],
        "has_exception": False,
    }
    assert not finishing.api.has_xcom(DAG_ID, finishing.run_id, "failure_callback")


def test_timeout_fails_on_the_triggerer(finishing: FinishingRun) -> None:
    trigger = assert_ended_on_triggerer(finishing, "timed_out")
    assert "Task failed: CraftWaitTimeout" in trigger
    assert "Task failed: CraftWaitTimeout" in finishing.task_log("timed_out")
