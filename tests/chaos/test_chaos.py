"""Chaos test: 100 Craft AI executions through a real Airflow against a misbehaving platform.

A real ``dag.test()`` of ``dags/craft_chaos.py`` (mapped ``CraftRunPipelineOperator`` tasks,
half waiting in the worker and half deferred, plus a few ``CraftTriggerEndpointOperator``
tasks) against the embedded platform with faults on: 503s, 429s with ``Retry-After``,
connections dropped mid-response before or after the request was handled (after a run
request: the execution exists but its id never came back, so it must be adopted), slow
answers, and access tokens living 2 seconds. In the middle:

* a watcher thread restarts the platform (graceful stop: running executions drain, pending
  ones are re-queued) once enough executions exist and one is running;
* one deferred task's trigger is cancelled mid-wait and rebuilt from its serialized kwargs,
  as a restarted triggerer does, and the task finishes with the rebuilt trigger's event.

Asserted: every task succeeds with the outputs of its own index, and the platform holds
exactly one (succeeded) execution per task. The figures (faults injected by kind, provider
retries, adoptions, duplicates, failures, wall time) are printed, written to
``chaos-figures.json`` in the test's tmp dir and shown in pytest's terminal summary; they are
observations, not assertions.

Reproduce: ``.venv/bin/pytest tests/chaos -s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conditions import wait_until

from craft_local.server import EmbeddedPlatform

CHAOS = Path(__file__).resolve().parent
SDK_TOKEN = "chaos-sdk-token-51c0e2"
FAULT_SEED = 20261126
PLATFORM_ARGS = [
    "--max-concurrency", "2",
    "--long-poll-seconds", "2",
    "--jwt-lifetime", "2",
    "--fault-seed", str(FAULT_SEED),
    "--fault-503-rate", "0.04",
    "--fault-429-rate", "0.02",
    "--fault-retry-after", "1",
    "--fault-reset-rate", "0.03",
    "--fault-reset-mode", "random",
    "--fault-slow-rate", "0.04",
    "--fault-slow-seconds", "0.4",
]  # fmt: skip
# Retry budget of one call: enough to ride out the restart gap (a few seconds of refused
# connections) with full-jitter backoff.
CONNECTION_EXTRAS = {"max_retries": 30, "max_retry_seconds": 120, "long_poll_timeout": 30}
RESTART_AFTER_EXECUTIONS = 45
RUN_DEADLINE = 420.0


def load_chaos_dag_module() -> Any:
    spec = importlib.util.spec_from_file_location("craft_chaos_dag", CHAOS / "dags/craft_chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHAOS_DAG = load_chaos_dag_module()


def control(platform: EmbeddedPlatform) -> httpx.Client:
    """A client of the control routes (``/_local/*``: never faulted)."""
    return httpx.Client(
        base_url=platform.url, headers={"Authorization": f"Bearer {SDK_TOKEN}"}, timeout=10
    )


# ---- what the provider did, from its own log records --------------------------------------


class ProviderEvents(logging.Handler):
    """Counts the protocol core's records: retries (by cause), token refreshes, ambiguous
    creations and adoptions."""

    LOGGERS = ("craft_airflow.protocol.calls", "craft_airflow.protocol.adoption")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retries: Counter[str] = Counter()
        self.refreshes = 0
        self.ambiguous = 0
        self.adopted: list[str] = []
        self._lock_counts = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        template = str(record.msg)
        with self._lock_counts:
            if "; retry " in template:
                self.retries[self._cause(str(record.args[1]) if record.args else "")] += 1
            elif "access token refused" in template:
                self.refreshes += 1
            elif "looking for the execution it may have created" in template:
                self.ambiguous += 1
            elif template.startswith("Adopting execution"):
                self.adopted.append(str(record.args[0]) if record.args else "?")

    @staticmethod
    def _cause(message: str) -> str:
        if "try again later" in message:
            return "503"
        if "slow down" in message:
            return "429"
        if "refused" in message.lower() or "could not reach" in message:
            return "connection refused"
        return "no answer (reset, timeout)"

    @contextlib.contextmanager
    def attached(self) -> Iterator[ProviderEvents]:
        loggers = [logging.getLogger(name) for name in self.LOGGERS]
        saved = [(lg.level, lg.disabled) for lg in loggers]
        for lg in loggers:
            lg.addHandler(self)
            lg.setLevel(logging.INFO)
            lg.disabled = False
        try:
            yield self
        finally:
            for lg, (level, disabled) in zip(loggers, saved, strict=True):
                lg.removeHandler(self)
                lg.setLevel(level)
                lg.disabled = disabled


# ---- the platform restart in the middle ---------------------------------------------------


class RestartWatcher(threading.Thread):
    """Restarts the platform (gracefully) once ``after`` executions exist and one runs."""

    def __init__(self, platform: EmbeddedPlatform, after: int, timeout: float) -> None:
        super().__init__(name="chaos-restart", daemon=True)
        self.platform = platform
        self.after = after
        self.timeout = timeout
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.at_restart: dict[str, Any] = {}
        self.gap_seconds: float | None = None

    def _ready(self, client: httpx.Client) -> dict[str, Any] | None:
        if self.stop_event.is_set():
            raise RuntimeError("the DAG run ended before the restart point")
        status = client.get("/_local/status").json()
        counts = status["executions"]
        if sum(counts.values()) >= self.after and counts.get("Running", 0) >= 1:
            return dict(status)
        return None

    def run(self) -> None:
        try:
            with control(self.platform) as client:
                self.at_restart = wait_until(
                    lambda: self._ready(client), self.timeout, "the restart point"
                )
            started = time.monotonic()
            self.platform.restart()
            self.gap_seconds = round(time.monotonic() - started, 2)
        except BaseException as exc:
            self.error = exc


# ---- the triggerer restart in the middle -------------------------------------------------


class TriggererRestart:
    """Stands for a deferred task's trigger in ``dag.test()``: runs it, cancels it while it
    waits (the execution still running, the trigger having sent requests), rebuilds it from
    ``serialize()`` through Airflow's serde as the triggerer does, and runs the rebuilt one to
    its event."""

    def __init__(self, trigger: Any, platform: EmbeddedPlatform) -> None:
        self.trigger = trigger
        self.platform = platform
        self.report: dict[str, Any] = {}

    async def run(self) -> AsyncIterator[Any]:
        from airflow.sdk._shared.module_loading import import_string
        from airflow.sdk.serde import deserialize, serialize

        execution_id = self.trigger.execution_id
        headers = {"Authorization": f"Bearer {SDK_TOKEN}"}
        async with httpx.AsyncClient(base_url=self.platform.url, headers=headers) as client:

            async def observe() -> tuple[int, list[str]] | None:
                """The platform's request counter and unfinished executions; ``None`` while
                the platform restarts (the watcher may restart it meanwhile)."""
                try:
                    counters = (await client.get("/_local/faults")).json()["counters"]
                    status = (await client.get("/_local/status")).json()
                except httpx.TransportError:
                    return None
                return int(counters.get("requests", 0)), list(status["unfinished"])

            first = self.trigger.run()
            seen = await observe()
            last = seen[0] if seen else 0
            sent = 0  # requests the platform received since the trigger started
            waiting = asyncio.ensure_future(anext(first, None))
            deadline = time.monotonic() + 60
            while True:
                seen = await observe()
                if waiting.done():
                    raise AssertionError(f"the trigger ended before it was cancelled ({seen})")
                if seen is not None:
                    # A restarted platform counts from zero again.
                    sent += seen[0] - last if seen[0] >= last else seen[0]
                    last = seen[0]
                    if sent >= 2 and execution_id in seen[1]:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError("the trigger never got to wait")
                await asyncio.sleep(0.05)
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            cancelled_mid_wait = waiting.cancelled()
            await first.aclose()
            classpath, kwargs = self.trigger.serialize()
            rebuilt = import_string(classpath)(**deserialize(serialize(kwargs)))
            event = await anext(rebuilt.run())
            after = await observe()
            still_unfinished = None if after is None else execution_id in after[1]
        self.report = {
            "execution_id": execution_id,
            "requests_before_cancel": sent,
            "cancelled_mid_wait": cancelled_mid_wait,
            "rebuilt_from": classpath,
            # A trigger that ends the task yields a task-end event (payload: the state name).
            "event_status": (
                event.payload.get("status") if isinstance(event.payload, dict) else event.payload
            ),
            "execution_unfinished_after_event": still_unfinished,
        }
        yield event


@pytest.fixture
def triggerer_restart(monkeypatch: pytest.MonkeyPatch) -> Callable[[EmbeddedPlatform], Any]:
    """Route the chosen deferred task's trigger through :class:`TriggererRestart`."""
    import airflow.sdk.definitions.dag as dag_module

    real = dag_module._run_inline_trigger
    task_id, map_index = CHAOS_DAG.TRIGGER_RESTART
    done: list[TriggererRestart] = []

    def install(platform: EmbeddedPlatform) -> list[TriggererRestart]:
        def run_inline(trigger: Any, task_sdk_ti: Any) -> Any:
            if (task_sdk_ti.task_id, task_sdk_ti.map_index) == (task_id, map_index) and not done:
                wrapper = TriggererRestart(trigger, platform)
                done.append(wrapper)
                return real(wrapper, task_sdk_ti)
            return real(trigger, task_sdk_ti)

        monkeypatch.setattr(dag_module, "_run_inline_trigger", run_inline)
        return done

    return install


# ---- set-up -------------------------------------------------------------------------------


@pytest.fixture
def chaos_platform(tmp_path: Path) -> Iterator[EmbeddedPlatform]:
    platform = EmbeddedPlatform(
        tmp_path / "platform",
        sdk_token=SDK_TOKEN,
        pipelines_dir=CHAOS / "pipelines",
        extra_args=PLATFORM_ARGS,
    )
    with platform:
        yield platform


@pytest.fixture
def chaos_dag(airflow_db: Any, chaos_platform: EmbeddedPlatform, monkeypatch) -> Any:
    """The chaos DAG, stored in the metadata DB (it lives outside the DAGs folder), with the
    default Craft connection pointing at the chaos platform."""
    from airflow_compat import load_dag_bag, sync_dags_to_db

    connection = {
        "conn_type": "craftai",
        "host": chaos_platform.url,
        "password": SDK_TOKEN,
        "extra": {"control_url": chaos_platform.url, **CONNECTION_EXTRAS},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CRAFT_AI_DEFAULT", json.dumps(connection))
    bag = load_dag_bag(CHAOS / "dags")
    assert not bag.import_errors, bag.import_errors
    sync_dags_to_db(bag)
    return bag.dags[CHAOS_DAG.DAG_ID]


def read_run(dag_id: str, run_id: str) -> tuple[dict[tuple[str, int], Any], dict[tuple, Any]]:
    """Task instances ``(task_id, map_index) -> (state, try_number)`` and XComs of a run."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id)).all()
        xcoms = {(r.task_id, r.map_index, r.key): XComModel.deserialize_value(r) for r in rows}
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        states = {(ti.task_id, ti.map_index): (str(ti.state), ti.try_number) for ti in tis}
    return states, xcoms


def platform_executions(platform: EmbeddedPlatform) -> list[dict[str, Any]]:
    """Every execution of the chaos pipeline, with its input values (faults switched off).

    The platform runs with 2-second access tokens, so each read takes a fresh one: a loaded
    machine can spend longer than a token's life on the whole list.
    """

    def get(client: httpx.Client, path: str) -> httpx.Response:
        token = client.post("/api/v1/auth/refresh", json={"refresh_token": SDK_TOKEN}).json()[
            "access_token"
        ]
        return client.get(path, headers={"Authorization": f"Bearer {token}"})

    with httpx.Client(base_url=platform.url, timeout=30) as client:
        listed = get(client, f"/api/v1/pipelines/{CHAOS_DAG.PIPELINE}/executions")
        assert listed.status_code == 200, listed.text
        executions = []
        for item in listed.json():
            one = get(client, f"/api/v1/executions/{item['execution_id']}?include_io_values=true")
            assert one.status_code == 200, one.text
            executions.append(one.json())
    return executions


def input_value(execution: dict[str, Any], name: str) -> Any:
    for item in execution.get("inputs") or ():
        if item.get("pipeline_input_name") == name:
            return item.get("value")
    return None


def faults_injected(platform: EmbeddedPlatform, current: dict[str, int]) -> dict[str, int]:
    """Fault counters of every platform process: earlier ones from their stop line in the
    platform log, the running one from ``/_local/faults``."""
    total: Counter[str] = Counter(current)
    for line in platform.log_path.read_text().splitlines():
        found = re.search(r"fault counters at stop: (\{.*\})", line)
        if found:
            total.update(json.loads(found.group(1)))
    return dict(total)


# ---- the test -----------------------------------------------------------------------------


# The slowest test of `make test` (546 s measured under a load average near 20): twice the
# suite's 900 s per-test bound, so that only a hang fails it.
@pytest.mark.timeout(1800)
def test_chaos(
    chaos_dag: Any,
    chaos_platform: EmbeddedPlatform,
    triggerer_restart: Callable[[EmbeddedPlatform], list[TriggererRestart]],
    record_property: Callable[[str, object], None],
    tmp_path: Path,
) -> None:
    expected = {
        (task_id, map_index): inputs["index"]
        for task_id in CHAOS_DAG.GROUPS
        for map_index, inputs in enumerate(CHAOS_DAG.inputs_of(task_id))
    }
    assert len(expected) >= 100
    restarted_triggers = triggerer_restart(chaos_platform)
    watcher = RestartWatcher(chaos_platform, RESTART_AFTER_EXECUTIONS, RUN_DEADLINE)
    events = ProviderEvents()

    started = time.monotonic()
    with events.attached():
        watcher.start()
        try:
            dag_run = chaos_dag.test(logical_date=None)
        finally:
            watcher.stop_event.set()
            watcher.join(timeout=60)
    wall_time = time.monotonic() - started

    with control(chaos_platform) as client:
        current = client.get("/_local/faults").json()["counters"]
        client.put(
            "/_local/faults",
            json={"rate_503": 0, "rate_429": 0, "rate_reset": 0, "rate_slow": 0},
        ).raise_for_status()
    faults = faults_injected(chaos_platform, current)
    states, xcoms = read_run(chaos_dag.dag_id, dag_run.run_id)
    executions = platform_executions(chaos_platform)

    by_index: dict[Any, list[dict[str, Any]]] = {}
    for execution in executions:
        by_index.setdefault(input_value(execution, "index"), []).append(execution)
    duplicates = sum(len(found) - 1 for found in by_index.values() if len(found) > 1)
    failed_tries = sum(tries - (1 if state == "success" else 0) for state, tries in states.values())
    not_succeeded = Counter(e["status"] for e in executions if e["status"] != "Succeeded")
    trigger_report = restarted_triggers[0].report if restarted_triggers else {}
    figures = {
        "tasks": len(expected),
        "deferrable_tasks": sum(
            count for _, count, deferrable, _ in CHAOS_DAG.GROUPS.values() if deferrable
        ),
        "endpoint_tasks": sum(
            count for _, count, _, kind in CHAOS_DAG.GROUPS.values() if kind == "endpoint"
        ),
        "executions": len(executions),
        "duplicates": duplicates,
        "executions_not_succeeded": dict(not_succeeded),
        "tasks_not_succeeded": sum(1 for s, _ in states.values() if s != "success"),
        "failed_task_tries": failed_tries,
        "faults_injected": {
            k: faults.get(k, 0)
            for k in ("requests", "503", "429", "reset_before", "reset_after", "slow")
        },
        "provider_retries": sum(events.retries.values()),
        "provider_retries_by_cause": dict(events.retries),
        "token_refreshes_after_401": events.refreshes,
        "ambiguous_creations": events.ambiguous,
        "adoptions": len(events.adopted),
        "ambiguous_creations_not_adopted": events.ambiguous - len(events.adopted),
        "platform_restart": {
            "executions_at_restart": sum(watcher.at_restart.get("executions", {}).values()),
            "unfinished_at_restart": len(watcher.at_restart.get("unfinished", [])),
            "their_final_statuses": dict(
                Counter(
                    e["status"]
                    for e in executions
                    if e["execution_id"] in watcher.at_restart.get("unfinished", [])
                )
            ),
            "stop_and_start_seconds": watcher.gap_seconds,
        },
        "triggerer_restart": trigger_report,
        "fault_seed": FAULT_SEED,
        "wall_time_seconds": round(wall_time, 1),
    }
    text = json.dumps(figures, indent=2, sort_keys=True)
    (tmp_path / "chaos-figures.json").write_text(text)
    record_property("chaos_figures", text)
    print(f"\nchaos figures ({tmp_path / 'chaos-figures.json'}):\n{text}")

    # The restart and the triggerer restart really happened, in the middle of the run.
    assert watcher.error is None, repr(watcher.error)
    assert watcher.gap_seconds is not None, "the platform was not restarted"
    assert "fault counters at stop" in chaos_platform.log_path.read_text()
    assert restarted_triggers, "no trigger was restarted"
    assert trigger_report.get("cancelled_mid_wait") is True, trigger_report
    assert trigger_report.get("event_status") == "success", trigger_report
    # Faults of every kind were injected.
    for kind in ("503", "429", "reset_before", "reset_after", "slow"):
        assert faults.get(kind, 0) > 0, faults

    # Every task succeeded with the outputs of its own index ...
    assert str(dag_run.state) == "success", {k: v for k, v in states.items() if v[0] != "success"}
    assert set(states) == set(expected)
    for (task_id, map_index), index in expected.items():
        assert states[(task_id, map_index)][0] == "success", (task_id, map_index)
        outputs = xcoms[(task_id, map_index, "return_value")]
        assert outputs == {"index": index, "square": index * index, "tag": f"task-{index}"}, (
            task_id,
            map_index,
            outputs,
        )
    # ... and the platform holds exactly one execution per task, the one the task announced.
    assert set(by_index) == set(expected.values()), sorted(by_index, key=str)
    assert duplicates == 0, {i: [e["execution_id"] for e in f] for i, f in by_index.items()}
    for (task_id, map_index), index in expected.items():
        (execution,) = by_index[index]
        assert execution["status"] == "Succeeded", execution
        assert xcoms[(task_id, map_index, "execution_id")] == execution["execution_id"]
    assert (
        trigger_report.get("execution_id")
        == by_index[expected[CHAOS_DAG.TRIGGER_RESTART]][0]["execution_id"]
    )
