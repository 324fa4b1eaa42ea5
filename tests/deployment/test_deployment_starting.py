"""Starting on the triggerer in a real deployment (LocalExecutor, PostgreSQL, a triggerer of its
own): a deferrable sensor whose ``execution_id`` the triggerer can render runs with no worker
start at all (started and ended by its trigger); one whose argument needs a worker starts on one.

One run of ``craft_deployment_starting``: an upstream task starts an execution without waiting;
the execution waits for a gate file until every sensor is deferred. The worker starts are the
lines of the DAG's ``on_execute_callback`` (only a worker runs it); the try's log files say
where each step ran.
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

from craft_local.server import EmbeddedPlatform

DAG_ID = "craft_deployment_starting"
SENSORS = ("on_triggerer", "pulled_on_worker", "xcom_arg")
STARTED_HERE = "Started on the triggerer: Craft AI execution "
ENDED_HERE = "Task ended on the triggerer: success"
FALLBACK = "The task started on a worker: "


@dataclass
class StartingRun:
    deployment: AirflowDeployment
    api: AirflowAPI
    platform: PlatformAPI
    run_id: str
    #: Each sensor's worker starts when every sensor was deferred (before the gate opened).
    starts_while_deferred: dict[str, list[int]]

    def starts(self, task_id: str) -> list[int]:
        folder = self.deployment.home / "starting-marks" / re.sub(r"[^\w.-]", "_", self.run_id)
        path = folder / f"{task_id}.start"
        if not path.exists():
            return []
        return [json.loads(line)["try_number"] for line in path.read_text().splitlines()]

    def log_files(self, task_id: str) -> tuple[str | None, str]:
        """The first try's worker log (``None``: no worker ran it) and its triggerer log(s)."""
        folder = self.deployment.home / "logs" / f"dag_id={DAG_ID}"
        (task_dir,) = folder.glob(f"run_id=*/task_id={task_id}")
        worker = task_dir / "attempt=1.log"
        triggers = sorted(task_dir.glob("attempt=1.log.trigger.*.log"))
        return (
            worker.read_text() if worker.exists() else None,
            "".join(path.read_text() for path in triggers),
        )

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.api.xcom(DAG_ID, self.run_id, task_id, key)


@pytest.fixture(scope="module")
def starting(
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    platform: EmbeddedPlatform,
    deploy_root: Path,
) -> Iterator[StartingRun]:
    """One run: every sensor deferred while the execution waits for the gate; then the gate."""
    deployment, api = local_deployment
    gate = deploy_root / "starting-gate"
    platform_api = PlatformAPI(platform)
    run_id = api.trigger(DAG_ID, conf={"gate": str(gate)})
    run = StartingRun(deployment, api, platform_api, run_id, {})
    try:
        with phase("starting: the sensors deferred"):

            def all_deferred() -> bool:
                states = {t: s for (t, _), s in api.task_states(DAG_ID, run_id).items()}
                assert not {t: s for t, s in states.items() if s == "failed"}, states
                return all(states.get(t) == "deferred" for t in SENSORS)

            wait_until(all_deferred, timeout=120, what=f"the sensors of {DAG_ID} to defer")
            run.starts_while_deferred.update({t: run.starts(t) for t in SENSORS})
        gate.touch()
        with phase("starting: the execution ends, the sensors with it"):
            assert api.wait_run(DAG_ID, run_id, timeout=120) == "success"
        yield run
    finally:
        gate.touch()
        platform_api.close()


def assert_outputs(run: StartingRun, task_id: str) -> None:
    """The execution the upstream task started: its outputs, id and link, as a worker pushes
    them."""
    execution_id = run.xcom("start", "execution_id")
    assert run.xcom(task_id, "execution_id") == execution_id
    outputs = run.xcom(task_id)
    assert (outputs["name"], outputs["length"]) == ("started", len("started"))
    assert outputs["report"].endswith(f"/{task_id}/{execution_id}/report")
    assert stored_file(outputs["report"], run.deployment) == "report of started\n"
    url = f"{run.platform.platform.url}/executions/{execution_id}"
    assert run.xcom(task_id, LINK_XCOM) == url
    assert run.api.extra_links(DAG_ID, run.run_id, task_id) == {LINK_NAME: url}


def test_the_sensor_starts_and_ends_on_the_triggerer(starting: StartingRun) -> None:
    assert starting.starts_while_deferred["on_triggerer"] == []
    assert starting.starts("on_triggerer") == []
    worker, trigger = starting.log_files("on_triggerer")
    assert worker is None, worker
    execution_id = starting.xcom("start", "execution_id")
    assert STARTED_HERE + execution_id in trigger
    assert ENDED_HERE in trigger
    assert "started passed the gate" in trigger  # the execution's logs, copied by the trigger
    assert_outputs(starting, "on_triggerer")


@pytest.mark.parametrize(
    ("task_id", "reason"),
    [
        ("xcom_arg", "execution_id is a PlainXComArg, which only a worker resolves"),
        ("pulled_on_worker", "execution_id: the template uses the task instance other than"),
    ],
)
def test_an_argument_only_a_worker_resolves_starts_on_a_worker(
    starting: StartingRun, task_id: str, reason: str
) -> None:
    assert starting.starts_while_deferred[task_id] == [1]
    assert starting.starts(task_id) == [1]  # started on a worker, ended on the triggerer
    worker, trigger = starting.log_files(task_id)
    assert worker is not None and FALLBACK + reason in worker
    assert STARTED_HERE not in trigger and ENDED_HERE in trigger
    assert_outputs(starting, task_id)
