"""Triggerer capacity: N concurrent ``CraftExecutionTrigger`` waits in one event loop.

The load stand-in (``benchmarks/load_standin.py``, its own process on 127.0.0.1) answers the
calls a wait makes; the waits run in a fresh child process, alone, the way a triggerer runs
them: one event loop, one trigger object per wait, each reading its connection and driving its
``run()`` until the event. Once every wait holds a long-poll, the stand-in ends the executions
evenly over ``N / rate`` seconds. Printed per N: RSS per wait (RSS with all waits in flight minus
RSS before the first trigger), CPU seconds of the waits' process (from the first trigger to the
last event) and of the stand-in's (its whole life), detection latency p50 / p99 (the stand-in's
end of the execution to the trigger's event), token refreshes, HTTP requests per execution,
GC-tracked objects per wait, Python's full (generation 2) garbage collections during the waits
with the longest pause, and the event loop's longest stall.

Waits are started at ``--start-rate`` per second (a triggerer picks triggers up as tasks defer);
"ramp s" is the time until all of them hold a long-poll.

Usage: ``python benchmarks/triggerer_capacity.py [--counts 1000,10000] [--rate 100] [--hold 20]
[--start-rate 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _common as c

HERE = Path(__file__).resolve().parent


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LoopStalls:
    """The event loop's longest stall (a 50 ms tick that came late) and Python's full (gen-2)
    garbage collections with their pauses: with thousands of waits, a full collection walks every
    GC-tracked object of the process, and nothing else runs meanwhile."""

    TICK = 0.05

    def __init__(self) -> None:
        self.longest = 0.0
        self.full_collections: list[float] = []
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.full_collections.append(time.perf_counter() - self._started)

    async def watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.TICK)
            self.longest = max(self.longest, time.perf_counter() - before - self.TICK)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _waits(url: str, count: int, rate: float, start_rate: float) -> dict[str, Any]:
    import httpx

    from craft_airflow.hooks.craft_async import CraftAIAsyncHook
    from craft_airflow.triggers.execution import CraftExecutionTrigger

    control = httpx.AsyncClient(base_url=url, timeout=120)
    # Warm-up: imports, the connection, the TLS context, the shared session and the token.
    await CraftAIAsyncHook().get_execution("exec-0")
    rss_before, cpu_before, started = c.process_memory(), cpu_seconds(), time.time()
    objects_before = len(gc.get_objects())
    stalls = LoopStalls()
    watcher = asyncio.create_task(stalls.watch())
    events: dict[str, tuple[float, str]] = {}

    async def wait(i: int) -> None:
        trigger = CraftExecutionTrigger(f"exec-{i}", "craft_ai_default", poll_interval=5.0)
        async for event in trigger.run():
            events[event.payload["execution_id"]] = (time.time(), event.payload["status"])

    # Waits start at ``start_rate`` per second, as a triggerer picks up triggers as tasks defer
    # (10,000 connections opened in the same instant would only measure the listen backlog).
    tasks: list[asyncio.Task[None]] = []
    for i in range(count):
        tasks.append(asyncio.create_task(wait(i)))
        if i % 50 == 49:
            await asyncio.sleep(50 / start_rate)
    while True:
        held = (await control.get("/standin/stats")).json()["held"]
        ended_early = sum(task.done() for task in tasks)
        if held + ended_early >= count:
            break
        await asyncio.sleep(0.5)
    ramp = time.time() - started
    rss_in_flight = c.process_memory()
    objects_per_wait = (len(gc.get_objects()) - objects_before) / count
    spread = count / rate
    first_end = (
        await control.post("/standin/start", json={"delay": 1.0, "spread": spread})
    ).json()["first_end"]
    peak = rss_in_flight
    pending = set(tasks)
    while pending:
        _, pending = await asyncio.wait(pending, timeout=0.5)
        peak = max(peak, c.process_memory())
    cpu = cpu_seconds() - cpu_before
    watcher.cancel()
    stats = (await control.get("/standin/stats")).json()
    await control.aclose()
    latencies = [events[f"exec-{i}"][0] - (first_end + spread * i / count) for i in range(count)]
    counts = stats["counts"]
    requests = sum(v for k, v in counts.items() if k != "refresh")
    return {
        "count": count,
        "ramp_s": ramp,
        "rss_per_wait_kb": (rss_in_flight - rss_before) / count / 1024,
        "peak_rss_mb": peak / 2**20,
        "cpu_s": cpu,
        "p50_s": percentile(latencies, 0.50),
        "p99_s": percentile(latencies, 0.99),
        "refreshes": counts.get("refresh", 0),
        "requests_per_execution": requests / count,
        "counts": counts,
        "statuses": dict(Counter(status for _, status in events.values())),
        "ended_before_the_ends": ended_early,
        "connections": stats["connections"],
        "objects_per_wait": objects_per_wait,
        "full_gcs": len(stalls.full_collections),
        "longest_full_gc_s": max(stalls.full_collections, default=0.0),
        "longest_stall_s": stalls.longest,
    }


def child(url: str, count: int, rate: float, start_rate: float) -> None:
    from load_standin import raise_fd_limit

    raise_fd_limit()
    os.environ["AIRFLOW_CONN_CRAFT_AI_DEFAULT"] = json.dumps(
        {"conn_type": "craftai", "host": url, "password": SDK_TOKEN, "extra": {"control_url": url}}
    )
    result = asyncio.run(_waits(url, count, rate, start_rate))
    print("RESULT " + json.dumps(result), flush=True)


SDK_TOKEN = "standin-sdk-token-7f3a"


def run_one(count: int, rate: float, hold: float, start_rate: float) -> dict[str, Any]:
    """Start the stand-in, run the waits in a child process, stop the stand-in by its PID."""
    standin = subprocess.Popen(
        [sys.executable, str(HERE / "load_standin.py"), "--count", str(count), "--hold", str(hold)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert standin.stdout is not None
        line = standin.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the stand-in did not start: {line!r}")
        url = f"http://127.0.0.1:{line.split()[1]}"
        with tempfile.TemporaryDirectory() as root:
            env = dict(os.environ)
            home = Path(root) / "airflow-home"
            home.mkdir()
            env.update(
                AIRFLOW_HOME=str(home),
                AIRFLOW__CORE__LOAD_EXAMPLES="False",
                AIRFLOW__CORE__UNIT_TEST_MODE="True",
            )
            out = subprocess.run(
                [sys.executable, __file__, "--child", url, str(count), str(rate), str(start_rate)],
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
            )
        for line in out.stdout.splitlines():
            if line.startswith("RESULT "):
                return {
                    **json.loads(line.removeprefix("RESULT ")),
                    "standin_cpu_s": proc_cpu(standin.pid),
                }
        raise RuntimeError(f"the waits' process failed:\n{out.stderr[-3000:]}")
    finally:
        standin.terminate()
        try:
            standin.wait(10)
        except subprocess.TimeoutExpired:
            standin.kill()
            standin.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000")
    parser.add_argument("--rate", type=float, default=100.0, help="executions ended per second")
    parser.add_argument("--hold", type=float, default=20.0, help="long-poll hold (s)")
    parser.add_argument("--start-rate", type=float, default=200.0, help="waits started per second")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), float(args.child[2]), float(args.child[3]))
        return
    rows = []
    for count in (int(n) for n in args.counts.split(",")):
        c.progress(f"{count} concurrent waits")
        r = run_one(count, args.rate, args.hold, args.start_rate)
        rows.append(
            [
                f"{r['count']:,}",
                f"{r['rss_per_wait_kb']:.1f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['cpu_s']:.1f}",
                f"{r['standin_cpu_s']:.1f}",
                f"{r['p50_s']:.3f}",
                f"{r['p99_s']:.3f}",
                str(r["refreshes"]),
                f"{r['requests_per_execution']:.2f}",
                f"{r['ramp_s']:.0f}",
                f"{r['objects_per_wait']:.0f}",
                f"{r['full_gcs']} / {r['longest_full_gc_s']:.2f}",
                f"{r['longest_stall_s']:.2f}",
            ]
        )
        c.progress(json.dumps({k: r[k] for k in ("counts", "statuses", "connections")}))
        c.progress(" | ".join(rows[-1]))
    print(
        f"\nTriggerer capacity (one event loop; waits started at {args.start_rate:g}/s; "
        f"executions end at {args.rate:g}/s once all waits hold a long-poll; "
        f"hold {args.hold:g} s)\n"
    )
    print(
        c.table(
            [
                "waits",
                "RSS/wait KB",
                "peak RSS MB",
                "CPU s",
                "stand-in CPU s",
                "p50 s",
                "p99 s",
                "refreshes",
                "req/exec",
                "ramp s",
                "GC objects/wait",
                "full GCs / longest s",
                "longest stall s",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
