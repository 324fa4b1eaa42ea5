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

Live logs (``--live-logs off,on``): with them on, each wait also follows its execution's log
(the stand-in's executions print a line every ``--log-every`` seconds) every
``--live-interval`` seconds; the lines go to a counting task log, which also measures how late a
sampled line (one execution in 100) shows ("line p99 s": from the line's time to its display).
Status lag (``--status-lags 0,0.05``): the stand-in's status read stays ``Running`` that long
after the outputs answered, as on a replicated platform. One row per combination.

Usage: ``python benchmarks/triggerer_capacity.py [--counts 1000,10000] [--rate 100] [--hold 20]
[--start-rate 200] [--live-logs off,on] [--live-interval 3] [--status-lags 0,0.05]``
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
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class CountingTaskLog:
    """A trigger's task log that counts the ``[craft]`` lines and, for one execution in
    ``SAMPLE``, keeps how late each showed (a real triggerer writes them to a file per task)."""

    SAMPLE = 100

    def __init__(self, latencies: list[float], sampled: bool) -> None:
        self.latencies = latencies
        self.sampled = sampled
        self.lines = 0
        #: Lines written before the wait began are a backlog, not a measure of liveness.
        self.since = time.time()

    def log(self, level: int, message: str, *args: Any) -> None:
        if not message.startswith("[craft]"):
            return
        self.lines += 1
        if self.sampled and args:
            from craft_airflow.protocol.logs import epoch_ms

            written = epoch_ms(args[0])
            if written is not None and written / 1000 >= self.since:
                self.latencies.append(time.time() - written / 1000)

    def _ignore(self, *args: Any, **kwargs: Any) -> None:
        return None

    debug = info = warning = error = exception = _ignore


async def _waits(
    url: str, count: int, rate: float, start_rate: float, live_interval: float | None
) -> dict[str, Any]:
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
    line_latencies: list[float] = []
    task_logs: list[CountingTaskLog] = []
    live = None if live_interval is None else {"interval": live_interval, "cursor": None}

    async def wait(i: int) -> None:
        trigger = CraftExecutionTrigger(
            f"exec-{i}", "craft_ai_default", poll_interval=5.0, live_logs=live
        )
        if live is not None:
            task_log = CountingTaskLog(line_latencies, i % CountingTaskLog.SAMPLE == 0)
            task_logs.append(task_log)
            trigger._log = task_log  # the task's log, as a triggerer gives each trigger its own
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
        "lines_shown": sum(t.lines for t in task_logs),
        "line_p99_s": percentile(line_latencies, 0.99),
    }


def child(url: str, count: int, rate: float, start_rate: float, live: float | None) -> None:
    from load_standin import raise_fd_limit

    raise_fd_limit()
    os.environ["AIRFLOW_CONN_CRAFT_AI_DEFAULT"] = json.dumps(
        {"conn_type": "craftai", "host": url, "password": SDK_TOKEN, "extra": {"control_url": url}}
    )
    result = asyncio.run(_waits(url, count, rate, start_rate, live))
    print("RESULT " + json.dumps(result), flush=True)


SDK_TOKEN = "standin-sdk-token-7f3a"


def run_one(
    count: int,
    rate: float,
    hold: float,
    start_rate: float,
    *,
    live: float | None = None,
    status_lag: float = 0.0,
    log_every: float = 1.0,
) -> dict[str, Any]:
    """Start the stand-in, run the waits in a child process, stop the stand-in by its PID.

    :param live: the live logs' interval, ``None``: live logs off.
    """
    standin = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "load_standin.py"),
            *("--count", str(count), "--hold", str(hold)),
            *("--status-lag", str(status_lag), "--log-every", str(log_every)),
        ],
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
                [
                    *(sys.executable, __file__, "--child", url),
                    *(str(count), str(rate), str(start_rate), "off" if live is None else str(live)),
                ],
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
    parser.add_argument("--live-logs", default="off,on", help="off, on, or both: off,on")
    parser.add_argument("--live-interval", type=float, default=3.0, help="seconds")
    parser.add_argument("--log-every", type=float, default=1.0, help="a line every ... s")
    parser.add_argument("--status-lags", default="0", help="e.g. 0,0.05 (seconds)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, count, rate, start_rate, live = args.child
        interval = None if live == "off" else float(live)
        child(url, int(count), float(rate), float(start_rate), interval)
        return
    rows = []
    combinations = [
        (int(n), mode, float(lag))
        for n in args.counts.split(",")
        for lag in args.status_lags.split(",")
        for mode in args.live_logs.split(",")
    ]
    for count, mode, lag in combinations:
        c.progress(f"{count} concurrent waits, live logs {mode}, status lag {lag:g} s")
        r = run_one(
            count,
            args.rate,
            args.hold,
            args.start_rate,
            live=args.live_interval if mode == "on" else None,
            status_lag=lag,
            log_every=args.log_every,
        )
        rows.append(
            [
                f"{r['count']:,}",
                mode,
                f"{lag:g}",
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
                str(r["lines_shown"]),
                f"{r['line_p99_s']:.2f}",
            ]
        )
        c.progress(json.dumps({k: r[k] for k in ("counts", "statuses", "connections")}))
        c.progress(" | ".join(rows[-1]))
    print(
        f"\nTriggerer capacity (one event loop; waits started at {args.start_rate:g}/s; "
        f"executions end at {args.rate:g}/s once all waits hold a long-poll; "
        f"hold {args.hold:g} s; live logs every {args.live_interval:g} s, a line every "
        f"{args.log_every:g} s)\n"
    )
    print(
        c.table(
            [
                "waits",
                "live logs",
                "status lag s",
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
                "lines shown",
                "line p99 s",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
