"""A Craft task's process killed at each point of creating its execution: the retry ends with
exactly one execution per task, and the right outputs.

Deterministic: the platform's gates (``/_local/gates``) hold the request of each case, the test
sees it held, kills the task's process (the PID Airflow recorded for the try: the task runner,
as an OOM kill would) and only then lets the gate go. No timing luck: each kill lands while the
task is stopped at its point.

a. just before the create call: the run request held before the platform handles it, then
   dropped (never handled): the retry finds no execution and creates one;
b. the create call in flight: the platform created the execution, its answer held: the retry
   finds it by the intent recorded before the call, and follows it;
c. during the adoption search: the create answer dropped (ambiguous), the search's list call
   held: the retry searches again and follows it;
d. just after the id arrived: the first call after the creation (the status check, after the id
   was recorded and announced) held: the retry re-attaches by the recorded id.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import PlatformAPI
from deployment.timings import phase

from craft_airflow.names import CREATION_INTENT_STATE_KEY, EXECUTION_ID_STATE_KEY
from craft_local.server import EmbeddedPlatform

DAG_ID = "craft_deployment_creation"
CASES = ("a", "b", "c", "d")


def gates_for(case: str) -> list[dict[str, Any]]:
    """The gates of one case; the last one holds the request at which the task is killed."""
    run = {"method": "POST", "path": f"/api/v1/pipelines/creation-{case}/run"}
    if case == "a":
        return [{**run, "when": "before"}]
    if case == "b":
        return [{**run, "when": "after"}]
    if case == "c":
        listing = {"method": "GET", "path": f"/api/v1/pipelines/creation-{case}/executions"}
        return [{**run, "when": "after", "action": "drop"}, listing]
    return [{"method": "GET", "path": f"/api/v1/executions/creation-{case}-"}]


class Gates:
    """The platform's gates, through its control API (the SDK token)."""

    def __init__(self, platform: EmbeddedPlatform) -> None:
        self.client = httpx.Client(
            base_url=f"{platform.url}/_local",
            headers={"Authorization": f"Bearer {platform.sdk_token}"},
            timeout=60,
        )

    def add(self, gate: dict[str, Any]) -> int:
        response = self.client.post("/gates", json=gate)
        assert response.status_code == 200, response.text
        return int(response.json()["id"])

    def view(self, gate_id: int) -> dict[str, Any]:
        return next(g for g in self.client.get("/gates").json() if g["id"] == gate_id)

    def drop(self, gate_id: int) -> None:
        response = self.client.post(f"/gates/{gate_id}/release", json={"then": "drop"})
        assert response.status_code == 200, response.text

    def close(self) -> None:
        self.client.delete("/gates")
        self.client.close()


@pytest.fixture
def gates(platform: EmbeddedPlatform) -> Iterator[Gates]:
    client = Gates(platform)
    yield client
    client.close()


@pytest.fixture
def platform_api(platform: EmbeddedPlatform) -> Iterator[PlatformAPI]:
    client = PlatformAPI(platform)
    yield client
    client.close()


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, killed but not yet reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def state_store(api: AirflowAPI, run_id: str, task_id: str) -> dict[str, Any]:
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/state-store"
    return {e["key"]: e["value"] for e in api.get(path, map_index=-1)["task_state_store"]}


def test_a_task_killed_at_each_point_of_the_creation_makes_one_execution(
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    gates: Gates,
    platform_api: PlatformAPI,
) -> None:
    _, api = local_deployment
    held_at = {}
    for case in CASES:
        ids = [gates.add(gate) for gate in gates_for(case)]
        held_at[case] = ids[-1]
    run_id = api.trigger(DAG_ID)

    def task(case: str) -> dict[str, Any]:
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/create_{case}"
        return dict(api.get(path))

    with phase("creation kills: each task held at its point, killed, released"):
        killed: dict[str, int] = {}

        def kill_the_held() -> bool:
            """Kill each task whose request is held, as soon as it is (before its read timeout
            could end the wait by itself); true once every case's task is killed."""
            views = {g["id"]: g for g in gates.client.get("/gates").json()}
            for case in CASES:
                if case in killed or views[held_at[case]]["held"] != 1:
                    continue
                first_try = task(case)
                assert first_try["try_number"] == 1 and first_try["state"] == "running", first_try
                # The task runner's PID, as its supervisor reported it when the try started.
                killed[case] = int(first_try["pid"])
                os.kill(killed[case], signal.SIGKILL)
            return len(killed) == len(CASES)

        wait_until(kill_the_held, timeout=300, what="each case's request held, its task killed")
        # The gates go once the processes are gone (case a: the run request is never handled).
        for case, pid in killed.items():
            wait_until(lambda p=pid: not alive(p), timeout=60, what=f"case {case}'s process gone")
            gates.drop(held_at[case])
    with phase("creation kills: the retries end"):
        assert api.wait_run(DAG_ID, run_id, timeout=300) == "success"

    for case in CASES:
        task_id = f"create_{case}"
        executions = platform_api.executions(f"creation-{case}")
        assert len(executions) == 1, (case, executions)  # exactly one execution per task
        (execution,) = executions
        assert execution["status"] == "Succeeded"
        assert task(case)["try_number"] == 2, case  # the kill made a retry, which succeeded
        assert api.xcom(DAG_ID, run_id, task_id) == {"echo": f"{case}-7"}
        assert api.xcom(DAG_ID, run_id, task_id, "execution_id") == execution["execution_id"]
        store = state_store(api, run_id, task_id)
        assert store[EXECUTION_ID_STATE_KEY] == execution["execution_id"], case
        assert store[CREATION_INTENT_STATE_KEY]["pipeline_name"] == f"creation-{case}"
        assert gates.view(held_at[case])["matched"] == 1  # the retry's calls passed
