"""Craft tasks of every kind through a real Celery deployment while its parts fail, one fault
after another: each fault hits tasks mid-flight, and every task still ends as designed.

About ``FAULTS_TASKS`` tasks (42 by default: one of each of the 6 kinds per fault;
``make test-faults FAULTS_TASKS=200`` for the full run, 210 tasks) are split into one DAG run (a
*wave*) per fault, triggered just before it. The faults:

1. ``kill -9`` of the triggerer holding triggers: the other triggerer takes them over;
2. ``kill -9`` of a Celery worker running a task that waits in the worker (its process group:
   the task's supervisor and process die with it); the worker is started again;
3. ``kill -9`` of the scheduler, started again;
4. PostgreSQL stopped (fast shutdown) and started again;
5. Redis stopped and started again (no persistence: queued messages are gone);
6. the platform stopped gracefully (running executions drain, pending ones wait) and started;
7. ``kill -9`` of the platform, started again on the same port and data dir.

Then every task is checked against the platform's records (the executions of the ``faults``
pipeline, matched to tasks by their ``key`` input): one execution per task, the one its
``execution_id`` XCom names, succeeded with its outputs (the file output read back), or failed
as designed. The one exception is designed too: an execution running when the platform is
killed ends ``Error`` (its process died with the platform), and its task's retry starts the
next one. Airflow's own losses (a try failed by the heartbeat timeout, a task requeued after
it was stuck in queued) are printed, with the setting that recovers them (conftest.py).
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg2
import pytest
from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.services import PostgresServer, RedisServer
from deployment.stack import PlatformAPI
from deployment.test_deployment_example_dags import stored_file
from deployment.timings import phase
from faults.fault_stack import (
    DAG_ID,
    REPORT,
    TRIGGERERS,
    WORKERS,
    wait_worker_ready,
)

from craft_local.server import EmbeddedPlatform

TASKS = int(os.environ.get("FAULTS_TASKS", "42"))
KINDS = ("worker", "triggerer", "resume", "endpoint", "sensed", "failing")
FAULT_NAMES = (
    "kill -9 triggerer",
    "kill -9 celery worker",
    "kill -9 scheduler + start",
    "restart postgresql",
    "restart redis",
    "restart platform (graceful)",
    "kill -9 platform + start",
)
IN_FLIGHT = {"running", "deferred", "queued"}
FINISHED = {"success", "failed"}
PLATFORM_CRASH_ERRORS = (
    "platform restarted while the execution was running",
    "platform restarted before the execution started",
)


@dataclass(frozen=True)
class Planned:
    """One Craft task of a wave: its kind, its map index, and the inputs it sends."""

    wave: int
    kind: str
    index: int
    key: str
    seconds: int

    @property
    def fails(self) -> bool:
        return self.kind == "failing"

    @property
    def task_ids(self) -> tuple[str, ...]:
        return ("start", "sensor") if self.kind == "sensed" else (self.kind,)


def plan(total: int, waves: int) -> list[list[Planned]]:
    """About ``total`` tasks over ``waves`` waves: the same number of each kind in every wave
    (at least one), 4-11 s of work each."""
    per_kind = max(1, round(total / (waves * len(KINDS))))
    planned: list[list[Planned]] = []
    for wave in range(waves):
        planned.append(
            [
                Planned(wave, kind, index, f"w{wave}-{kind}-{index}", 4 + (wave + 3 * n) % 8)
                for index in range(per_kind)
                for n, kind in enumerate(KINDS)
            ]
        )
    return planned


def conf(wave: list[Planned]) -> dict[str, Any]:
    """The run's ``items``: item ``i`` holds the inputs of map index ``i`` of every kind."""
    items: list[dict[str, Any]] = [{} for _ in range(1 + max(p.index for p in wave))]
    for p in wave:
        fail = "yes" if p.fails else "no"
        items[p.index][p.kind] = {"key": p.key, "seconds": p.seconds, "fail": fail}
    return {"items": items}


def triggerer_of(hostname: str) -> str:
    """The triggerer service whose job has ``hostname`` (the first has the machine's)."""
    return TRIGGERERS[1] if hostname == TRIGGERERS[1] else TRIGGERERS[0]


@dataclass
class Fault:
    """What one fault did: when, to which tasks, how long until things answered again."""

    name: str
    at: float  # seconds since the first wave
    wall: datetime
    touched: list[str]
    back_seconds: float
    back_what: str
    executions: list[str] = field(default_factory=list)  # the platform's, Running or Pending
    notes: list[str] = field(default_factory=list)


class Suite:
    """The deployment's parts and the looks at its state that the faults need."""

    def __init__(
        self,
        deployment: AirflowDeployment,
        api: AirflowAPI,
        postgres: PostgresServer,
        redis: RedisServer,
        platform: EmbeddedPlatform,
    ) -> None:
        self.deployment, self.api = deployment, api
        self.postgres, self.redis, self.platform = postgres, redis, platform
        self.started = time.monotonic()
        self.runs: dict[int, str] = {}
        self.faults: list[Fault] = []
        self.revived: list[str] = []

    # -- looks ------------------------------------------------------------------------------

    def task_instances(self) -> list[dict[str, Any]]:
        found = self.api.get(f"/dags/{DAG_ID}/dagRuns/~/taskInstances", limit=1000)
        return list(found["task_instances"])

    def in_flight(self, states: set[str] = IN_FLIGHT) -> list[dict[str, Any]]:
        return [
            ti for ti in self.task_instances() if ti["state"] in states and ti["task_id"] != "plan"
        ]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Airflow's metadata database, read directly (what its REST API does not show)."""
        conn = psycopg2.connect(self.postgres.dsn("faults"), connect_timeout=5)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def triggers_by_triggerer(self) -> dict[str, int]:
        """Triggerer service name -> triggers it runs (from the ``trigger`` and ``job`` tables)."""
        rows = self.query(
            "SELECT job.hostname, count(*) FROM trigger JOIN job ON job.id = trigger.triggerer_id"
            " GROUP BY job.hostname"
        )
        return {triggerer_of(host): n for host, n in rows}

    def deferred_on(self, triggerer: str) -> set[tuple[str, str, int]]:
        """``(run_id, task_id, map_index)`` of the tasks whose trigger ``triggerer`` runs."""
        rows = self.query(
            "SELECT ti.run_id, ti.task_id, ti.map_index, job.hostname FROM task_instance ti"
            " JOIN trigger ON trigger.id = ti.trigger_id"
            " JOIN job ON job.id = trigger.triggerer_id"
        )
        return {(run, task, i) for run, task, i, host in rows if triggerer_of(host) == triggerer}

    def platform_executions(self) -> list[dict[str, Any]]:
        with httpx.Client(timeout=10) as probe:
            try:
                probe.get(f"{self.platform.url}/api/v1/environment-info")
            except httpx.TransportError:
                return []
        client = PlatformAPI(self.platform)
        try:
            return client.executions("faults")
        finally:
            client.close()

    def unfinished_executions(self) -> list[str]:
        return [
            e["execution_id"]
            for e in self.platform_executions()
            if e["status"] in ("Pending", "Running")
        ]

    def healthy(self, component: str, since: datetime) -> bool:
        try:
            health = self.api.client.get("/api/v2/monitor/health").json()
        except (httpx.TransportError, ValueError):
            return False
        part = health.get(component) or {}
        beat = part.get(f"latest_{component}_heartbeat")
        if part.get("status") != "healthy":
            return False
        return beat is None or datetime.fromisoformat(beat) > since

    # -- waves and faults -------------------------------------------------------------------

    def finished(self) -> bool:
        states = {
            run["dag_run_id"]: run["state"]
            for run in self.api.get(f"/dags/{DAG_ID}/dagRuns", limit=100)["dag_runs"]
        }
        return all(states.get(run) in FINISHED for run in self.runs.values())

    def trigger(self, wave: int, planned: list[Planned]) -> None:
        self.runs[wave] = self.api.trigger(DAG_ID, conf=conf(planned))

    def revive(self) -> bool:
        """Start again every Airflow component that exited, as a service manager does (the
        scheduler exits when it loses its database connection); noted in the report."""
        for service in self.deployment.services:
            if service.proc is not None and not service.running:
                code = service.proc.returncode
                service.start()
                self.revived.append(f"{service.name} exited ({code}), started again")
        return True

    def tag(self, ti: dict[str, Any]) -> str:
        """A task instance as the report names it: ``w<wave>/<task>[<index>]:<state>``."""
        wave = next((w for w, run in self.runs.items() if run == ti["dag_run_id"]), "?")
        return f"w{wave}/{ti['task_id']}[{ti['map_index']}]:{ti['state']}"

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def inject(
        self,
        name: str,
        ready: Callable[[], Any],
        act: Callable[[], None],
        back: Callable[[], Any],
        back_what: str,
        touches: Callable[[dict[str, Any]], bool] = lambda ti: True,
        ready_timeout: float = 180,
        revive: bool = True,
    ) -> Fault:
        """Wait until ``ready`` (tasks in flight), then ``act``, then wait until ``back``.

        :param touches: which of the tasks in flight the fault touches (all by default).
        :param revive: start again the components that exit while waiting for ``back``.
        """
        wait_until(
            lambda: self.revive() and ready(),
            timeout=ready_timeout,
            what=f"tasks in flight for '{name}'",
            interval=0.5,
        )
        self.revived = []
        touched = [self.tag(ti) for ti in self.in_flight() if touches(ti)]
        executions = self.unfinished_executions()
        wall, at = datetime.now(UTC), self.elapsed()
        start = time.monotonic()
        with phase(f"faults: {name}"):
            act()
            wait_until(
                lambda: (not revive or self.revive()) and back(),
                timeout=300,
                what=f"recovery from '{name}'",
                interval=0.2,
            )
        fault = Fault(name, at, wall, touched, time.monotonic() - start, back_what, executions)
        fault.notes += self.revived
        self.faults.append(fault)
        return fault


@pytest.fixture
def suite(faults_deployment, postgres, redis, platform) -> Iterator[Suite]:
    deployment, api = faults_deployment
    yield Suite(deployment, api, postgres, redis, platform)


def kill_triggerer(suite: Suite) -> None:
    """The triggerer running the most triggers; touched: the deferred tasks of those."""
    state: dict[str, Any] = {}

    def ready() -> bool:
        held = suite.triggers_by_triggerer()
        if held:
            state["victim"] = max(held, key=lambda name: held[name])
            state["held"] = held[state["victim"]]
            state["tasks"] = suite.deferred_on(state["victim"])
        return bool(held)

    def back() -> bool:
        return state["victim"] not in suite.triggers_by_triggerer()

    fault = suite.inject(
        FAULT_NAMES[0],
        ready,
        lambda: suite.deployment.service(state["victim"]).kill(),
        back,
        "its triggers taken over by the other",
        revive=False,  # the killed one stays down until the other has taken over
        touches=lambda ti: (ti["dag_run_id"], ti["task_id"], ti["map_index"]) in state["tasks"],
    )
    fault.notes.append(f"killed {state['victim']}, which ran {state['held']} trigger(s)")
    with phase("faults: the killed triggerer started again"):
        suite.deployment.service(state["victim"]).start()


def kill_worker(suite: Suite) -> None:
    """A worker running a task that waits in it; touched: its running tasks."""
    chosen: list[str] = []

    def ready() -> bool:
        """A task running in a worker for 2 s (it has started its execution): one waiting in the
        worker by preference."""
        now = datetime.now(UTC)
        running = [
            ti
            for ti in suite.in_flight({"running"})
            if ti["hostname"] in WORKERS
            and (now - datetime.fromisoformat(ti["start_date"])).total_seconds() > 2
        ]
        running.sort(key=lambda ti: ti["task_id"] != "worker")
        chosen[:] = [ti["hostname"] for ti in running[:1]]
        return bool(chosen)

    def act() -> None:
        worker = suite.deployment.service(chosen[0])
        worker.kill()
        since = len(worker.log_text())
        worker.start()  # the same command and environment
        wait_worker_ready(worker, since)

    fault = suite.inject(
        FAULT_NAMES[1],
        ready,
        act,
        lambda: True,
        "worker started again and ready",
        touches=lambda ti: ti["state"] == "running" and ti["hostname"] == chosen[0],
    )
    fault.notes.append(f"killed {chosen[0]}")


def kill_scheduler(suite: Suite) -> None:
    restarted: list[datetime] = []

    def act() -> None:
        scheduler = suite.deployment.service("scheduler")
        scheduler.kill()
        restarted.append(datetime.now(UTC))
        scheduler.start()

    suite.inject(
        FAULT_NAMES[2],
        lambda: suite.in_flight(),
        act,
        lambda: suite.healthy("scheduler", restarted[0]),
        "the new scheduler heartbeating",
    )


def restart_postgres(suite: Suite) -> None:
    restarted: list[datetime] = []

    def act() -> None:
        suite.postgres.restart()
        restarted.append(datetime.now(UTC))

    def back() -> bool:
        return suite.healthy("scheduler", restarted[0]) and suite.healthy("triggerer", restarted[0])

    suite.inject(
        FAULT_NAMES[3],
        lambda: suite.in_flight(),
        act,
        back,
        "scheduler and triggerer heartbeating again",
    )


def restart_redis(suite: Suite) -> None:
    offsets: dict[str, int] = {}

    def act() -> None:
        for name in WORKERS:
            offsets[name] = len(suite.deployment.service(name).log_text())
        suite.redis.restart()

    # Celery logs "Connected to redis://..."; Airflow masks the broker URL ("Connected to ***").
    def back() -> bool:
        return all(
            "Connected to " in suite.deployment.service(name).log_text()[offsets[name] :]
            for name in WORKERS
        )

    # Tasks queued (sent to Celery, not yet started) by preference: what a restart loses.
    prefer_until = time.monotonic() + 30

    def ready() -> bool:
        queued = suite.in_flight({"queued"})
        return bool(queued) or (time.monotonic() > prefer_until and bool(suite.in_flight()))

    suite.inject(FAULT_NAMES[4], ready, act, back, "both workers reconnected")


def restart_platform(suite: Suite) -> None:
    suite.inject(
        FAULT_NAMES[5],
        lambda: suite.unfinished_executions(),
        suite.platform.restart,
        lambda: True,
        "drained, started and answering",
    )


def kill_platform(suite: Suite) -> None:
    def act() -> None:
        suite.platform.kill()
        suite.platform.start()

    suite.inject(
        FAULT_NAMES[6],
        lambda: suite.unfinished_executions(),
        act,
        lambda: True,
        "started again and answering",
    )


FAULT_ACTIONS = (
    kill_triggerer,
    kill_worker,
    kill_scheduler,
    restart_postgres,
    restart_redis,
    restart_platform,
    kill_platform,
)


def test_every_task_ends_as_designed_under_faults(suite: Suite) -> None:
    waves = plan(TASKS, len(FAULT_ACTIONS))
    total = sum(map(len, waves))
    try:
        for wave, (planned, fault) in enumerate(zip(waves, FAULT_ACTIONS, strict=True)):
            suite.trigger(wave, planned)
            fault(suite)
        suite.revived = []
        with phase(f"faults: the {total} tasks end"):
            wait_until(
                lambda: suite.revive() and suite.finished(),
                timeout=600,
                what="every run to end",
                interval=1,
            )
    finally:
        ended = time.monotonic()
        try:
            instances = {
                (ti["dag_run_id"], ti["task_id"], ti["map_index"]): ti
                for ti in suite.task_instances()
            }
            report(suite, instances, ended, total)
        except Exception as error:  # the report must not hide why the run failed
            REPORT.append(f"no report: {error!r}")
    executions = executions_by_key(suite)
    # The executions the platform's crash killed: its restart marks them Error with this message
    # (a graceful restart drains instead: none of its executions end so).
    crashed = {
        e["execution_id"]
        for listed in executions.values()
        for e in listed
        if (e.get("error") or {}).get("message") in PLATFORM_CRASH_ERRORS
    }
    problems: list[str] = []
    for wave, planned in enumerate(waves):
        for p in planned:
            problems += check(suite, suite.runs[wave], p, instances, executions, crashed)
    REPORT.append(
        f"executions killed by the platform's crash (Error, their task's retry started the next"
        f" one): {len(crashed)}"
    )
    assert not problems, "\n".join(problems)


def executions_by_key(suite: Suite) -> dict[str, list[dict[str, Any]]]:
    """Every execution of the ``faults`` pipeline, with its inputs, by its ``key`` input."""
    client = PlatformAPI(suite.platform)
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        for item in client.executions("faults"):
            response = client.client.get(f"/api/v1/executions/{item['execution_id']}")
            assert response.status_code == 200, response.text
            execution = response.json()
            inputs = {i["pipeline_input_name"]: i.get("value") for i in execution["inputs"]}
            found[str(inputs["key"])].append(execution)
    finally:
        client.close()
    for listed in found.values():
        listed.sort(key=lambda e: e["created_at"])
    return found


def check(
    suite: Suite,
    run_id: str,
    p: Planned,
    instances: dict[tuple[str, str, int], dict[str, Any]],
    executions: dict[str, list[dict[str, Any]]],
    crashed: set[str],
) -> list[str]:
    """What is wrong with one planned task (nothing when it ended as designed)."""
    api = suite.api
    mine = executions.get(p.key, [])
    problems = []
    say = problems.append
    # Executions before the last one: only those the platform's crash killed (the retry then
    # starts the next one); anything else is a duplicate.
    *earlier, last = mine or [None]
    for e in earlier:
        if e["execution_id"] not in crashed:
            say(f"{p.key}: a second execution {e['execution_id']} ({e['status']})")
    if last is None:
        return [f"{p.key}: no execution on the platform"]
    killed = last["status"] == "Error" and last["execution_id"] in crashed
    owner = "start" if p.kind == "sensed" else p.kind
    ti = instances[(run_id, owner, p.index)]
    xcom_id = api.xcom(DAG_ID, run_id, owner, "execution_id", p.index)
    if xcom_id != last["execution_id"]:
        say(f"{p.key}: execution_id XCom {xcom_id}, the platform's last {last['execution_id']}")
    if p.fails:
        if ti["state"] != "failed":
            say(f"{p.key}: {ti['state']}, designed to fail")
        message = (last.get("error") or {}).get("message", "")
        if not (killed or (last["status"] == "Failed" and "failed on purpose" in message)):
            say(f"{p.key}: execution {last['status']} {message!r}, designed to fail on purpose")
        return problems
    if p.kind == "sensed":
        if (
            ti["state"] != "success"
            or api.xcom(DAG_ID, run_id, "start", map_index=p.index) != (last["execution_id"])
        ):
            say(f"{p.key}: start {ti['state']}, or its return value is not its execution id")
        ti = instances[(run_id, "sensor", p.index)]
        owner = "sensor"
        if killed:  # the sensor follows an execution it did not start: it fails with it
            if ti["state"] != "failed":
                say(f"{p.key}: sensor {ti['state']}, its execution ended Error")
            return problems
    if last["status"] != "Succeeded":
        say(f"{p.key}: last execution {last['execution_id']} {last['status']}")
    if ti["state"] != "success":
        return [*problems, f"{p.key}: {owner} {ti['state']} (try {ti['try_number']})"]
    outputs = api.xcom(DAG_ID, run_id, owner, map_index=p.index)
    if (outputs.get("key"), outputs.get("seconds")) != (p.key, p.seconds):
        say(f"{p.key}: outputs {outputs}")
    elif stored_file(outputs["report"], suite.deployment) != f"report of {p.key}\n":
        say(f"{p.key}: the stored report {outputs['report']} is not its own")
    return problems


def report(
    suite: Suite, instances: dict[tuple[str, str, int], dict[str, Any]], ended: float, total: int
) -> None:
    """One line per fault, then Airflow's own losses and the tries they cost."""
    by_tag_prefix = {suite.tag(ti).rsplit(":", 1)[0]: ti for ti in instances.values()}
    for number, fault in enumerate(suite.faults, 1):
        ends = []
        for touched in fault.touched:
            ti = by_tag_prefix.get(touched.rsplit(":", 1)[0])
            if ti and ti.get("end_date"):
                ends.append((datetime.fromisoformat(ti["end_date"]) - fault.wall).total_seconds())
        states = Counter(t.rsplit(":", 1)[1] for t in fault.touched)
        touched = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
        last_end = f"{max(ends):.0f} s" if ends else "-"
        REPORT.append(
            f"fault {number} at +{fault.at:5.1f} s  {fault.name:<28} touched"
            f" {len(fault.touched):3d} tasks ({touched}),"
            f" {len(fault.executions)} executions unfinished; "
            f"{fault.back_what} after {fault.back_seconds:.1f} s; touched tasks all ended "
            f"{last_end} after the fault" + (f" [{'; '.join(fault.notes)}]" if fault.notes else "")
        )
        REPORT.append(f"    touched: {' '.join(sorted(fault.touched)) or '-'}")
    retried = sorted(
        f"{suite.tag(ti)} try {ti['try_number']}"
        for ti in instances.values()
        if ti["try_number"] > 1
    )
    events = suite.api.get("/eventLogs", dag_id=DAG_ID, limit=1000)["event_logs"]
    lost = Counter(
        e["event"]
        for e in events
        if e["event"] in ("heartbeat timeout", "stuck in queued reschedule")
        or "stuck in queued" in e["event"]
    )
    if suite.revived:
        REPORT.append(f"after the faults: {'; '.join(suite.revived)}")
    REPORT.append(
        f"Airflow's own losses: {dict(lost) or 'none'}; tries after the first: "
        f"{len(retried)} ({', '.join(retried) or '-'})"
    )
    finished = Counter(ti["state"] for ti in instances.values())
    REPORT.append(
        f"{total} Craft tasks in {len(suite.runs)} waves; task instances {dict(finished)};"
        f" all ended {ended - suite.started:.0f} s after the first wave"
    )
