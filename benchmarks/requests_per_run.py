"""HTTP requests one run-and-wait of a 5-second pipeline costs, per operator and mode.

A counting reverse proxy (``tests/hooks/scripted_server.py``, pure Python on 127.0.0.1) sits in
front of the embedded platform; each case runs one DAG with one Craft task through
``dag.test()`` (deferrable triggers run inline) and counts the requests by method and route
template. Cases: ``CraftRunPipelineOperator`` on ``slow`` (seconds=5), the endpoint operator on
a 5-second endpoint (endpoint-token route with and without an SDK token, SDK-token route), and
``CraftExecutionSensor`` on an execution started beforehand; each in worker-wait mode, deferrable
with the resume on the worker, and deferrable finishing on the triggerer (counted up to the
resume that ``dag.test()`` still makes and a real triggerer does not), with the platform's
long-poll hold at 5 s (default) and 1 s.

Usage: ``python benchmarks/requests_per_run.py [--seconds 5] [--holds 5,1]``
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c

sys.path.insert(0, str(c.REPO / "tests" / "hooks"))
from scripted_server import ScriptedServer

ENDPOINT = "slow-endpoint"
ENDPOINT_TOKEN = "slow-endpoint-bench-token"
#: Segment after which the next path segment is a name or id, and its placeholder.
PLACEHOLDERS = {"pipelines": "{p}", "executions": "{id}", "deployments": "{d}", "outputs": "{name}"}


def route_template(method: str, path: str, query: dict[str, list[str]]) -> str:
    """E.g. ``GET /api/v1/executions/{id}/outputs?wait_for_completion`` (query keys only)."""
    parts = path.strip("/").split("/")
    out = list(parts)
    for index in range(1, len(parts)):
        if parts[index - 1] in PLACEHOLDERS:
            out[index] = PLACEHOLDERS[parts[index - 1]]
    if parts[0] == "endpoints" and len(parts) > 1:
        out[2 if parts[1] == "v1" and len(parts) > 2 else 1] = "{path}"
    keys = sorted(k if k != "token" else "token=…" for k in query)
    return f"{method} /{'/'.join(out)}" + (f"?{'&'.join(keys)}" if keys else "")


@dataclass
class Case:
    name: str
    deferrable: bool
    build: Callable[[bool, str], Any]
    connection: dict[str, Any]
    #: Start the execution beforehand, without the proxy (the sensor's case).
    start_beforehand: bool = False
    #: Deferrable only: the trigger ends the task (else the task resumes on the worker).
    finish: bool = False

    @property
    def mode(self) -> str:
        if not self.deferrable:
            return "worker-wait"
        return "deferrable, finish on triggerer" if self.finish else "deferrable"


@dataclass
class Result:
    case: str
    mode: str
    hold: float
    state: str
    total: int
    wall: float
    routes: Counter[str]


def pipeline_task(deferrable: bool, _arg: str) -> Any:
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    return CraftRunPipelineOperator(
        task_id="run",
        pipeline_name="slow",
        inputs={"seconds": SECONDS},
        deferrable=deferrable,
        finish_on_triggerer=FINISH,
    )


def endpoint_task(deferrable: bool, _arg: str) -> Any:
    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator

    return CraftTriggerEndpointOperator(
        task_id="run",
        endpoint_name=ENDPOINT,
        inputs={"seconds": SECONDS},
        deferrable=deferrable,
        finish_on_triggerer=FINISH,
    )


def sensor_task(deferrable: bool, execution_id: str) -> Any:
    from craft_airflow.sensors.execution import CraftExecutionSensor

    return CraftExecutionSensor(
        task_id="run",
        execution_id=execution_id,
        deferrable=deferrable,
        poke_interval=5,
        mode="poke",
        finish_on_triggerer=FINISH,
    )


SECONDS = 5.0
#: ``finish_on_triggerer`` of the task being built (set per case).
FINISH = False


def run_case(case: Case, proxy: ScriptedServer, platform_url: str, hold: float) -> Result:
    from airflow.sdk import DAG

    c.set_connection(proxy.url, **case.connection)
    arg = ""
    if case.start_beforehand:
        # Start the sensor's execution without the proxy: only the sensor is counted.
        from craft_airflow.hooks.craft import CraftAIHook

        c.set_connection(platform_url, **case.connection)
        hook = CraftAIHook()
        arg = hook.run_pipeline("slow", inputs={"seconds": SECONDS})
        hook.close()
        c.set_connection(proxy.url, **case.connection)
    global FINISH
    FINISH = case.finish
    mode = case.mode
    slug = re.sub(r"[^a-z0-9]+", "_", f"{case.name} {mode} {hold:g}".lower())
    dag_id = f"bench_{slug}"
    with DAG(dag_id, schedule=None, default_args={"retries": 0}) as dag:
        case.build(case.deferrable, arg)
    # Each case as if in a fresh triggerer process: no access token shared from the last case.
    from craft_airflow.hooks import shared_state

    shared_state.reset_for_tests()
    proxy.requests.clear()
    started = time.monotonic()
    with counted_until_resume(proxy, case.finish) as counted:
        state = c.run_dag(dag)
    wall = time.monotonic() - started
    routes = Counter(route_template(r.method, r.path, r.query) for r in counted())
    return Result(case.name, mode, hold, state, sum(routes.values()), wall, routes)


@contextlib.contextmanager
def counted_until_resume(proxy: ScriptedServer, finish: bool) -> Iterator[Callable[[], list]]:
    """The requests to count. Finishing on the triggerer, ``dag.test()`` still resumes the task on
    the "worker" after the trigger ended it (a real triggerer does not): count the requests up to
    that resume, and make the resume a no-op."""
    from craft_airflow.operators._base import CraftExecutionMixin

    if not finish:
        yield lambda: list(proxy.requests)
        return
    seen: list[int] = []
    original = CraftExecutionMixin._finish_after_end_event

    def stop_counting(self: Any, context: Any) -> None:
        seen.append(len(proxy.requests))

    CraftExecutionMixin._finish_after_end_event = stop_counting  # type: ignore[method-assign]
    try:
        yield lambda: list(proxy.requests)[: seen[0]] if seen else list(proxy.requests)
    finally:
        CraftExecutionMixin._finish_after_end_event = original  # type: ignore[method-assign]


def cases() -> list[Case]:
    sdk: dict[str, Any] = {}
    both: dict[str, Any] = {"endpoint_tokens": {ENDPOINT: ENDPOINT_TOKEN}}
    only: dict[str, Any] = {"sdk_token": None, "endpoint_tokens": {ENDPOINT: ENDPOINT_TOKEN}}
    found = []
    for deferrable, finish in ((False, False), (True, False), (True, True)):
        found += [
            Case("pipeline", deferrable, pipeline_task, sdk, finish=finish),
            Case(
                "endpoint, endpoint token + SDK token",
                deferrable,
                endpoint_task,
                both,
                False,
                finish,
            ),
            Case("endpoint, endpoint token only", deferrable, endpoint_task, only, False, finish),
            Case("endpoint, SDK token only", deferrable, endpoint_task, sdk, False, finish),
            Case("sensor", deferrable, sensor_task, sdk, start_beforehand=True, finish=finish),
        ]
    return found


def main() -> None:
    global SECONDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="pipeline duration")
    parser.add_argument("--holds", default="5,1", help="long-poll holds to try, comma-separated")
    args = parser.parse_args()
    SECONDS = args.seconds
    holds = [float(h) for h in args.holds.split(",")]
    results: list[Result] = []
    with c.temp_root("craft-bench-requests-") as root:
        c.airflow_env(root)
        log = root / "airflow.log"
        with c.quiet(log):
            c.init_db()
        for hold in holds:
            platform = c.platform(root, "--long-poll-seconds", f"{hold:g}")
            with platform, ScriptedServer(upstream=platform.url) as proxy:
                c.progress(f"hold {hold:g} s: warm-up run (not counted)")
                with c.quiet(log):
                    run_case(Case("warm up", False, pipeline_task, {}), proxy, platform.url, hold)
                for case in cases():
                    c.progress(f"hold {hold:g} s: {case.name}, {case.mode}")
                    with c.quiet(log):
                        results.append(run_case(case, proxy, platform.url, hold))
        report(results, holds, log)


def report(results: list[Result], holds: list[float], log: Path) -> None:
    print(f"\nRequests for one run-and-wait of a {SECONDS:g}-second pipeline (dag.test()):\n")
    rows = [[r.case, r.mode, f"{r.hold:g} s", r.total, f"{r.wall:.1f}", r.state] for r in results]
    print(c.table(["task", "mode", "long-poll hold", "requests", "wall s", "state"], rows))
    print("\nBreakdown (requests by route):\n")
    for hold in holds:
        print(f"long-poll hold {hold:g} s")
        for r in (r for r in results if r.hold == hold):
            routes = ", ".join(f"{n}x {k}" for k, n in sorted(r.routes.items()))
            print(f"  {r.case} / {r.mode}: {routes}")
    failed = [r for r in results if r.state != "success"]
    if failed:
        print(f"\n{len(failed)} run(s) did not succeed; see the Airflow log kept with BENCH_KEEP=1")
        print(f"({log})")
        sys.exit(1)


if __name__ == "__main__":
    main()
