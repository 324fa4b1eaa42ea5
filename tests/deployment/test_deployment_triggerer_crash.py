"""kill -9 of the triggerer while 10 Craft tasks are deferred; a new triggerer takes them over.

Executions are held open by gate files (a condition the test controls, not a duration): tasks
0-4 end while no triggerer runs, 5-9 after the new one has started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import PlatformAPI
from deployment.timings import phase

from craft_local.server import EmbeddedPlatform

DAG_ID = "craft_deployment_deferred"
TASK_ID = "wait_at_gate"
COUNT = 10


@pytest.fixture
def platform_api(platform: EmbeddedPlatform) -> Iterator[PlatformAPI]:
    client = PlatformAPI(platform)
    yield client
    client.close()


def test_ten_deferred_tasks_survive_a_killed_triggerer(
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    platform_api: PlatformAPI,
    deploy_root: Path,
) -> None:
    deployment, api = local_deployment
    gates = [deploy_root / "gate-first-half", deploy_root / "gate-second-half"]
    # Other tests of the session run the gate pipeline too: count only this run's executions.
    earlier = {e["execution_id"] for e in platform_api.executions("gate")}

    def executions() -> list[dict]:
        return [e for e in platform_api.executions("gate") if e["execution_id"] not in earlier]

    run_id = api.trigger(DAG_ID, conf={"gates": [str(g) for g in gates]})

    def mapped_states() -> dict[int, str | None]:
        return {i: s for (t, i), s in api.task_states(DAG_ID, run_id).items() if t == TASK_ID}

    with phase("triggerer crash: 10 tasks deferred"):
        wait_until(
            lambda: list(mapped_states().values()) == ["deferred"] * COUNT,
            timeout=300,
            what=f"{COUNT} deferred tasks",
        )
    running = executions()
    assert len(running) == COUNT and {e["status"] for e in running} == {"Running"}

    with phase("triggerer crash: kill -9, half the executions end, new triggerer"):
        old = deployment.service("triggerer")
        old.kill()
        assert not old.running
        gates[0].touch()
        wait_until(
            lambda: sum(e["status"] == "Succeeded" for e in executions()) == COUNT // 2,
            timeout=120,
            what="the first half of the executions to end",
        )
        assert set(mapped_states().values()) == {"deferred"}  # nobody followed them meanwhile
        deployment.start("triggerer", "triggerer", "--skip-serve-logs")
    with phase("triggerer crash: the new triggerer finishes all 10"):
        gates[1].touch()
        assert api.wait_run(DAG_ID, run_id, timeout=300) == "success", mapped_states()

    assert mapped_states() == dict.fromkeys(range(COUNT), "success")
    execution_ids = set()
    for index in range(COUNT):
        gate = str(gates[index * len(gates) // COUNT])
        assert api.xcom(DAG_ID, run_id, TASK_ID, map_index=index) == {"index": index, "gate": gate}
        execution_ids.add(api.xcom(DAG_ID, run_id, TASK_ID, "execution_id", index))
    ours = executions()
    assert len(ours) == COUNT, ours  # no task started a second execution
    assert {e["execution_id"] for e in ours} == execution_ids
    assert {e["status"] for e in ours} == {"Succeeded"}
    assert [u for u in platform_api.status()["unfinished"] if u not in earlier] == []
