"""Deployments from DAGs, through a real Airflow (``dag.test()``) against the embedded platform:
the idempotent deployment operator, the sensor waiting for a deployment's next execution (poke,
reschedule, deferrable) and the example DAG. The platform's scheduler clock is frozen and its
due ticks run on demand (``/_local/scheduler``): no test waits for a real minute."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from craft_airflow.hooks.craft import CraftAIHook

DAGS = Path(__file__).parent / "dags"
#: Each tick at a year of its own, later than any other test's frozen clock.
_years = itertools.count(2100)


class Scheduler:
    """The platform's scheduler: freeze its clock, run the due ticks."""

    def __init__(self, platform: Any) -> None:
        self.url = platform.url
        self.headers = {"Authorization": f"Bearer {platform.sdk_token}"}

    def tick(self, now: str, deployment_name: str) -> str:
        """Run the ticks due at ``now``; return the execution of ``deployment_name``'s tick
        (other tests' periodic deployments tick too)."""
        frozen = httpx.put(
            f"{self.url}/_local/scheduler/clock", json={"now": now}, headers=self.headers
        )
        assert frozen.status_code == 200, frozen.text
        ran = httpx.post(f"{self.url}/_local/scheduler/run-due", headers=self.headers)
        assert ran.status_code == 200, ran.text
        ticks = httpx.get(
            f"{self.url}/_local/deployments/{deployment_name}/ticks", headers=self.headers
        ).json()
        assert ticks[-1]["outcome"] == "started", ticks
        execution_id = str(ticks[-1]["execution_id"])
        assert execution_id in ran.json()["execution_ids"]
        return execution_id

    def release(self) -> None:
        httpx.put(f"{self.url}/_local/scheduler/clock", json={"now": None}, headers=self.headers)


@pytest.fixture(scope="module")
def dags(airflow_db: Any, craft_connection: Any) -> dict[str, Any]:
    """The test DAGs, stored in the metadata DB (they live outside the DAGs folder)."""
    from airflow_compat import load_dag_bag, sync_dags_to_db

    bag = load_dag_bag(DAGS)
    assert not bag.import_errors, bag.import_errors
    sync_dags_to_db(bag)
    return bag.dags


@pytest.fixture
def scheduler(craft_platform: Any, craft_connection: Any) -> Iterator[Scheduler]:
    s = Scheduler(craft_platform)
    yield s
    s.release()


@pytest.fixture
def deploy(dags: dict[str, Any], run_any_dag: Any) -> Any:
    def run(key: str) -> Any:
        return run_any_dag(dags[f"craft_deploy__{key}"], deferrable=False)

    return run


def deployment(name: str) -> dict[str, Any]:
    hook = CraftAIHook()
    try:
        return hook.get_deployment(name)
    finally:
        hook.close()


def test_the_operator_creates_then_changes_only_what_differs(deploy: Any) -> None:
    first = deploy("first")
    assert first.state == "success", first.task_states
    created = first.xcom("deploy")
    assert created["created"] is True and created["updated"] == []
    assert created["schedule"] == "0 0 1 1 *" and created["is_enabled"] is True

    again = deploy("first").xcom("deploy")
    assert again["created"] is False and again["updated"] == []  # same spec, no change

    changed = deploy("changed").xcom("deploy")
    assert sorted(changed["updated"]) == ["inputs_mapping", "is_enabled", "schedule"]
    now = deployment("af-periodic")
    assert now["schedule"] == "30 2 * * 1" and now["is_enabled"] is False
    assert now["inputs_mapping"][0]["constant_value"] == 0.2
    assert deploy("changed").xcom("deploy")["updated"] == []

    assert deploy("wrong_kind").state == "failed"  # a mapping's kind cannot change
    assert deploy("other_pipeline").state == "failed"  # the name deploys another pipeline
    assert deployment("af-periodic")["pipeline"]["name"] == "slow"


def test_an_endpoint_deployments_token_never_reaches_xcom_or_the_log(
    deploy: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    run = deploy("endpoint")
    assert run.state == "success", run.task_states
    token = deployment("af-endpoint")["endpoint_token"]
    assert token and token not in json.dumps(list(run.xcoms.values()), default=str)
    # The task's log, as dag.test() writes it: the operator's line is there, the token is not.
    out, err = capfd.readouterr()
    logged = f"{out}{err}{caplog.text}"
    assert "deployment af-endpoint" in logged.lower()
    assert token not in logged
    assert run.xcom("deploy")["endpoint_url_path"] == "af-endpoint"


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_the_sensor_returns_the_next_finished_executions_outputs(
    dags: dict[str, Any], deploy: Any, run_any_dag: Any, scheduler: Scheduler, mode: str
) -> None:
    name = f"af-sensed-{mode}"
    assert deploy(f"sensed_{mode}").state == "success"
    after = deployment(name)["created_at"]
    execution_id = scheduler.tick(f"{next(_years)}-01-01T00:00:00Z", name)
    run = run_any_dag(
        dags[f"craft_sense__{mode}"],
        deferrable=mode == "deferrable",
        run_conf={"deployment": name, "after": after},
    )
    assert run.state == "success", run.task_states
    assert run.xcom("wait", "execution_id") == execution_id
    assert run.xcom("wait") == {"slept": f"craft://craft_ai_default@/{name}/slept"}


def test_the_sensor_fails_with_a_failed_execution(
    dags: dict[str, Any], deploy: Any, run_any_dag: Any, scheduler: Scheduler
) -> None:
    assert deploy("failing").state == "success"
    after = deployment("af-failing")["created_at"]
    execution_id = scheduler.tick(f"{next(_years)}-01-01T00:00:00Z", "af-failing")
    run = run_any_dag(
        dags["craft_sense__poke"],
        deferrable=False,
        run_conf={"deployment": "af-failing", "after": after},
    )
    assert run.state == "failed"
    assert run.xcom("wait", "execution_id") == execution_id


def test_the_example_dag_deploys_then_follows_the_next_tick(
    example_dags: dict[str, Any], deploy: Any, run_any_dag: Any, scheduler: Scheduler
) -> None:
    # The deployment as the example describes it, made first so that a tick can precede the run.
    assert deploy("nightly").state == "success"
    created_at = deployment("slow-nightly")["created_at"]
    # Still running (1 s) when the sensor starts looking.
    execution_id = scheduler.tick(f"{next(_years)}-01-01T03:00:00Z", "slow-nightly")

    dag = example_dags["craft_deploy_and_wait"]
    dag.task_dict["wait_for_tick"].poke_interval = 0.2
    run = run_any_dag(dag, deferrable=False, run_conf={"after": created_at})
    assert run.state == "success", run.task_states
    assert run.xcom("deploy")["created"] is False and run.xcom("deploy")["updated"] == []
    assert run.xcom("wait_for_tick", "execution_id") == execution_id
    assert run.xcom("report") == (
        "the nightly run wrote craft://craft_ai_default@/nightly/slept.json"
    )
