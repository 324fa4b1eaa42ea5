"""A real Airflow 3 (SQLite metadata DB, ``dag.test()`` in this process, triggers run inline)
against the embedded platform serving the example pipelines."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
# One endpoint gets its endpoint token in the connection (endpoint-token route); the other
# (word-count-endpoint) is triggered with the SDK token.
ENDPOINTS_WITH_TOKEN = ("all-types-endpoint",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


def connection_json(platform: Any, endpoint_tokens: dict[str, str] | None = None) -> str:
    extra: dict[str, Any] = {"control_url": platform.url}
    if endpoint_tokens:
        extra["endpoint_tokens"] = endpoint_tokens
    return json.dumps(
        {
            "conn_type": "craftai",
            "host": platform.url,
            "password": platform.sdk_token,
            "extra": extra,
        }
    )


@pytest.fixture(scope="session")
def craft_connection(craft_platform: Any) -> Iterator[dict[str, str]]:
    """``AIRFLOW_CONN_CRAFT_AI_DEFAULT`` pointing at the platform; endpoint tokens read from its
    deployments with the SDK token."""
    from craft_airflow.hooks.craft import CraftAIHook

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_CRAFT_AI_DEFAULT", connection_json(craft_platform))
        hook = CraftAIHook()
        tokens = {n: hook.get_deployment(n)["endpoint_token"] for n in ENDPOINTS_WITH_TOKEN}
        hook.close()
        patch.setenv("AIRFLOW_CONN_CRAFT_AI_DEFAULT", connection_json(craft_platform, tokens))
        yield tokens


@pytest.fixture(scope="session")
def example_dags(airflow_db: Any, craft_connection: dict[str, str]) -> dict[str, Any]:
    """The example DAGs, parsed from the DAGs folder (AIRFLOW__CORE__DAGS_FOLDER)."""
    from airflow_compat import load_dag_bag

    bag = load_dag_bag(EXAMPLE_DAGS)
    assert not bag.import_errors, bag.import_errors
    return bag.dags


@dataclass
class Run:
    """A finished DAG run: its state, task states and XComs."""

    run_id: str
    state: str
    task_states: dict[tuple[str, int], str]
    xcoms: dict[tuple[str, int, str], Any]

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        return self.xcoms[(task_id, map_index, key)]


def set_deferrable(dag: Any, deferrable: bool) -> None:
    """Switch every Craft task of ``dag`` to (non-)deferrable, mapped ones included."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    from craft_airflow.operators._base import CraftExecutionMixin

    for task in dag.tasks:
        if isinstance(task, MappedOperator):
            if issubclass(task.operator_class, CraftExecutionMixin):
                task.partial_kwargs["deferrable"] = deferrable
        elif isinstance(task, CraftExecutionMixin):
            task.deferrable = deferrable


def run_and_read(dag: Any, *, deferrable: bool, run_conf: dict[str, Any] | None = None) -> Run:
    """Run ``dag`` with ``dag.test()`` and read back what it left in the metadata DB."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_id = dag.dag_id
    set_deferrable(dag, deferrable)
    dag_run = dag.test(logical_date=None, run_conf=run_conf)
    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id)).all()
        xcoms = {(r.task_id, r.map_index, r.key): XComModel.deserialize_value(r) for r in rows}
        tis = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run.run_id
            )
        ).all()
        states = {(ti.task_id, ti.map_index): str(ti.state) for ti in tis}
    return Run(dag_run.run_id, str(dag_run.state), states, xcoms)


@pytest.fixture
def run_any_dag() -> Callable[..., Run]:
    """:func:`run_and_read`, for DAGs that are not example DAGs."""
    return run_and_read


@pytest.fixture
def run_dag(example_dags: dict[str, Any]) -> Callable[..., Run]:
    """Run one example DAG with ``dag.test()`` (see :func:`run_and_read`)."""

    def run(dag_id: str, *, deferrable: bool) -> Run:
        return run_and_read(example_dags[dag_id], deferrable=deferrable)

    return run


@pytest.fixture
def trigger_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Execution ids the shared trigger waited for (it still does the real waiting)."""
    from craft_airflow.triggers.execution import CraftExecutionTrigger

    seen: list[str] = []
    real_run = CraftExecutionTrigger.run

    def run(self: CraftExecutionTrigger):  # type: ignore[no-untyped-def]
        seen.append(self.execution_id)
        return real_run(self)

    monkeypatch.setattr(CraftExecutionTrigger, "run", run)
    return seen


COPY_PIPELINE = "large-copy"
COPY_ENDPOINT = "large-copy-endpoint"
COPY_CODE = """import shutil
import time


def main(document, seconds=0):
    time.sleep(seconds)  # still Running when the task checks once: the task waits or defers
    shutil.copyfile(document["path"], "copy.bin")
    return {"copy": {"path": "copy.bin"}}
"""


@dataclass(frozen=True)
class CopyPipeline:
    name: str
    endpoint: str
    endpoint_token: str


@pytest.fixture(scope="session")
def copy_pipeline(craft_platform: Any, craft_connection: Any) -> CopyPipeline:
    """The pipeline ``large-copy`` (file input ``document`` copied, byte for byte, to the file
    output ``copy`` after ``seconds``) and its endpoint ``large-copy-endpoint``, created on the
    platform through its API."""
    from platform_kit import Api, create_pipeline

    api = Api(craft_platform.url, craft_platform.sdk_token)
    try:
        created = create_pipeline(
            api,
            COPY_PIPELINE,
            COPY_CODE,
            inputs=[
                {"name": "document", "data_type": "file"},
                {"name": "seconds", "data_type": "number", "is_required": False},
            ],
            outputs=[{"name": "copy", "data_type": "file"}],
        )
        assert created.status_code == 200, created.text
        endpoint = api.post(
            "/api/v1/endpoints", json={"pipeline_name": COPY_PIPELINE, "name": COPY_ENDPOINT}
        )
        assert endpoint.status_code == 200, endpoint.text
        return CopyPipeline(COPY_PIPELINE, COPY_ENDPOINT, endpoint.json()["endpoint_token"])
    finally:
        api.http.close()
