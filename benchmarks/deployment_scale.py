"""N deferred Craft tasks at once (1,000 by default) in one real deployment, against a 30-s
fixed-interval poll trigger.

The deployment is that of ``benchmarks/side_by_side.py`` (PostgreSQL, the embedded platform,
api-server, scheduler with the LocalExecutor, dag-processor and triggerer, each its own process
on 127.0.0.1), with these settings:

- the platform runs at most ``--platform-concurrency`` executions at once (24; each runs in a
  subprocess, so 1,000 at once would not fit), the others wait ``Pending``;
- ``[core] max_active_runs_per_dag`` and ``max_active_tasks_per_dag`` are N (deferred tasks do
  not count towards ``max_active_tasks``, but queued and running ones do while the N start);
- ``[triggerer] capacity`` is at least N (default 1,000: a warm-up trigger could be left out);
- ``[core] parallelism`` (the LocalExecutor's worker processes) is ``--parallelism`` (8, twice
  the deployment suite's 4: starting N tasks is CPU-bound on 2 cores, more would only queue on
  the CPU and cost about 100 MiB each);
- the ``default_pool`` is left as it is: its ``include_deferred`` is false, so a deferred task
  frees its pool slot (the report prints the pool as the API shows it).

Each variant is one DAG of ``benchmarks/side_by_side_dags/craft_bench_scale.py``, one task
running the ``gate`` pipeline of ``tests/deployment/pipelines``, which holds its execution open
until a gate file exists: (d) ``CraftRunPipelineOperator``, deferrable, finishing on the
triggerer; (e30) the fixed-interval status poll of the dbt Cloud and Databricks triggers, every
30 s, resuming on a worker (``side_by_side_dags/fixed_interval_poll.py``). Per variant, on a
freshly restarted triggerer warmed up by one run with an open gate:

1. **submit**: N runs triggered through the REST API; the first ``--platform-concurrency``
   executions hold the platform's slots at the gate and the rest stay ``Pending``, while every
   task starts on a worker and defers. The benchmark polls the API until N task instances are
   ``deferred`` at once (the peak count is printed), then the task logs until the triggerer has
   started every trigger (a task is ``deferred`` in the database before its trigger runs);
2. **hold**: the gate stays closed for ``--hold`` seconds more (a measuring window: the cost of
   N waiting triggers);
3. **drain**: the gate file is created; the platform runs the executions through its slots and
   the triggerer detects each end; until the N DAG runs have ended.

Columns (see ``benchmarks/side_by_side.py`` for worker starts, slot-seconds and detection):

- **triggerer CPU s**: ``utime + stime`` of the triggerer's processes (``/proc/<pid>/stat``; the
  ``airflow triggerer`` process and its trigger-runner child) over each phase, and the share of
  one core over the hold and the drain;
- **peak deferred**: the largest number of the variant's task instances in ``deferred`` seen by
  the poll, and the largest "triggers currently running" the triggerer logged (once a minute);
- **platform CPU**: the same for the platform's process, its running executions and those it
  has reaped (``cutime + cstime``): the stand-in shares the two cores with Airflow;
- **detection split**: per run, from the task's trigger log, when the Craft trigger saw the
  final status (its ``Craft AI execution <id> is Succeeded`` line) and when the triggerer logged
  ``Trigger fired event``; for (e30) the start of the resumed task on a worker
  (``on_execute_callback``); then the task instance's ``end_date``. The stretches between these
  marks, from the platform's ``end_date`` of the execution, p50 / p99 each;
- **peak PSS**: each component's process tree (the scheduler's includes the LocalExecutor's
  workers and the tasks they run; the platform's includes its running executions), summed from
  ``/proc/<pid>/smaps_rollup`` every second; proportional, so the pages that forked workers
  share count once.

Usage: ``make bench-scale`` (``BENCH_ARGS="--n 20"`` for a quick run), or
``.venv-deploy/bin/python benchmarks/deployment_scale.py [--n 1000] [--variants d,e30]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common as c
import side_by_side as sbs
from bench_variants import SCALE_DAG_IDS, SCALE_PIPELINE
from conditions import wait_until

VARIANTS = {
    "d": "(d) Craft trigger, finishes on the triggerer",
    "e30": "(e) fixed-interval poll, 30 s, resumes on a worker",
}
FIRED = "Trigger fired event"
STARTING = "starting"
#: The Craft trigger's line when it sees the execution's final status (``... is Succeeded``, or
#: ``...: Running -> Succeeded after 12 s``).
SAW_END = re.compile(
    r"^Craft AI execution \S+?:? (is|\S+ ->) (Succeeded|Failed|Error|Skipped)( after .*)?$"
)
#: The Craft trigger's line once it has ended the task (outputs, XComs, logs done).
ENDED = "Task ended on the triggerer"
#: Seconds between two looks at the API while waiting (each look is one or two small requests).
POLL_SECONDS = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- processes, from /proc -------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """``utime + stime`` of ``pid`` and its living descendants, plus those of the children
    ``pid`` has reaped (``cutime + cstime``: the platform's ended executions), in seconds."""
    ticks = 0
    for p in sbs._tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(x) for x in fields[11 : 15 if p == pid else 13])
    return ticks / CLOCK_TICKS


def pss(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes (shared pages split between their users, so
    that a tree's sum does not count the pages its forked workers share once per worker)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


def tree_pss(pid: int) -> int:
    return sum(pss(p) for p in sbs._tree(pid))


class ScaleSampler(sbs.Sampler):
    """The side-by-side sampler, plus the peak PSS of each component's process tree (every
    second).

    :param components: name -> PID of the tree's root.
    """

    def __init__(self, scheduler_pid: int, triggerer_pid: int, components: dict[str, int]) -> None:
        super().__init__(scheduler_pid, triggerer_pid)
        self.components = components
        self.peak_trees = dict.fromkeys(components, 0)
        self.peak_total = 0
        self._ticks = 0

    def _sample(self, last: float) -> None:
        super()._sample(last)
        self._ticks += 1
        if self._ticks % round(1 / sbs.SAMPLE_SECONDS):
            return
        total = 0
        for name, pid in self.components.items():
            rss = tree_pss(pid)
            total += rss
            self.peak_trees[name] = max(self.peak_trees[name], rss)
        self.peak_total = max(self.peak_total, total)


# -- one variant -----------------------------------------------------------------------------


@dataclass
class Phase:
    """One phase's wall time and the CPU seconds of the triggerer's and the platform's processes
    over it."""

    seconds: float = 0.0
    triggerer_cpu: float = 0.0
    platform_cpu: float = 0.0

    def share(self, cpu: float) -> str:
        """``cpu`` as a share of one core over the phase."""
        return f"{100 * cpu / self.seconds:.0f} %" if self.seconds else "-"


@dataclass
class Result:
    key: str
    n: int
    load_before: tuple[float, float, float]
    phases: dict[str, Phase] = field(default_factory=dict)
    succeeded: int = 0
    peak_deferred: int = 0
    #: The fewest deferred during the hold (N unless a task left the deferred state early).
    held_min: int = 2**31
    peak_logged: int = 0
    starts: int = 0
    starts_seen: int = 0
    slot_seconds: float = 0.0
    triggerer_peak_rss: int = 0
    peak_trees: dict[str, int] = field(default_factory=dict)
    peak_total: int = 0
    requests: int = 0
    #: stretch name -> seconds, one per successful run.
    stretches: dict[str, list[float]] = field(default_factory=dict)
    blocked: list[float] = field(default_factory=list)


def count(api: sbs.AirflowAPI, path: str, **params: Any) -> int:
    """``total_entries`` of a list endpoint."""
    return int(api.get(path, limit=1, **params)["total_entries"])


class Timer:
    """Wall time and the CPU of two process trees from one mark to the next.

    :param triggerer_pid: the triggerer.
    :param platform_pid: the platform (its running executions included; the CPU of those that
        ended is in the platform's ``cutime``, not counted: the stand-in's own cost is wanted).
    """

    def __init__(self, triggerer_pid: int, platform_pid: int) -> None:
        self.pids = (triggerer_pid, platform_pid)
        self._mark()

    def _mark(self) -> None:
        self.marks = (time.monotonic(), *(cpu_seconds(p) for p in self.pids))

    def phase(self) -> Phase:
        before = self.marks
        self._mark()
        return Phase(*(b - a for a, b in zip(before, self.marks, strict=True)))


def run_variant(key: str, n: int, hold: float, bench: sbs.Bench, root: Path) -> Result:
    """N runs of ``key`` deferred at once, held, then drained; measured."""
    deployment, api, platform = bench.deployment, bench.api, bench.platform
    dag_id = SCALE_DAG_IDS[key]
    sbs.restart_triggerer(deployment, api)
    warm_gate = root / "gate-open"
    warm_gate.touch()
    warm = sbs.trigger_runs(api, dag_id, 1, {"gate": str(warm_gate)})
    sbs.wait_runs(api, dag_id, warm, timeout=600)
    scheduler = deployment.service("scheduler").pid
    triggerer = deployment.service("triggerer").pid
    wait_until(lambda: sbs.busy_workers(scheduler) == 0, 60, "every worker slot to be free")
    log_start = len(deployment.service("triggerer").log_text())
    ended_before = count(api, f"/dags/{dag_id}/dagRuns", state=["success", "failed"])
    result = Result(key, n, os.getloadavg())
    components = {s.name: s.pid for s in deployment.services if s.running}
    components["platform"] = bench.platform.platform._proc.pid  # type: ignore[union-attr]
    sampler = ScaleSampler(scheduler, triggerer, components)
    reset = platform.client.put("/_local/faults", json={"reset_counters": True})
    assert reset.status_code == 200, reset.text
    gate = root / f"gate-{key}"
    tis = f"/dags/{dag_id}/dagRuns/~/taskInstances"
    sampler.start()
    try:
        timer = Timer(triggerer, components["platform"])
        run_ids = sbs.trigger_runs(api, dag_id, n, {"gate": str(gate)})

        def all_deferred() -> bool:
            deployment.check_alive()
            deferred = count(api, tis, state="deferred")
            result.peak_deferred = max(result.peak_deferred, deferred)
            failed = count(api, tis, state="failed")
            assert not failed, f"{failed} tasks of {dag_id} failed before the gate opened"
            return deferred == n

        c.progress(f"  {n} runs triggered; waiting until all are deferred")
        wait_until(all_deferred, 900 + 3 * n, f"{n} deferred tasks", interval=POLL_SECONDS)
        started = StartedTriggers(deployment.home / "logs" / f"dag_id={dag_id}", run_ids)
        wait_until(
            lambda: started.count() == n, 600, f"{n} running triggers", interval=POLL_SECONDS
        )
        result.phases["submit"] = timer.phase()
        c.progress(f"  {n} deferred after {result.phases['submit'].seconds:.0f} s; holding")
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:  # a measuring window, not a synchronisation
            result.held_min = min(result.held_min, count(api, tis, state="deferred"))
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        result.phases["hold"] = timer.phase()
        gate.touch()

        def all_ended() -> bool:
            deployment.check_alive()
            ended = count(api, f"/dags/{dag_id}/dagRuns", state=["success", "failed"])
            return ended - ended_before >= n

        wait_until(all_ended, 900 + 3 * n, f"the {n} runs to end", interval=POLL_SECONDS)
        result.phases["drain"] = timer.phase()
        counters = platform.client.get("/_local/faults").json()["counters"]
        result.requests = int(counters.get("requests", 0))
        wait_until(lambda: sampler.busy == 0, timeout=60, what="every worker slot to be free")
    finally:
        sampler.stop()
    wanted = set(run_ids)
    runs = {r: run for r, run in sbs.list_runs(api, dag_id).items() if r in wanted}
    result.succeeded = sum(r["state"] == "success" for r in runs.values())
    result.starts = sbs.started_runs(bench.starts_file, dag_id, run_ids)
    result.starts_seen = sampler.starts_seen
    result.slot_seconds = sampler.slot_seconds
    result.triggerer_peak_rss = sampler.peak_rss
    result.peak_trees = sampler.peak_trees
    result.peak_total = sampler.peak_total
    c.progress("  reading the end of every execution and task")
    ends = sbs.execution_and_task_ends(api, platform, dag_id, runs, SCALE_PIPELINE)
    logs = trigger_logs(deployment.home / "logs" / f"dag_id={dag_id}")
    marks = {run_id: trigger_marks(path) for run_id, path in logs.items()}
    if key == "e30":
        for run_id, started_at in resume_starts(bench.starts_file, dag_id).items():
            marks.setdefault(run_id, {})["resumed"] = started_at
    result.stretches = stretches(ends, marks)
    log = deployment.service("triggerer").log_text()[log_start:]
    result.peak_logged = peak_logged_triggers(log)
    result.blocked = blocked_seconds(log)
    return result


# -- the logs --------------------------------------------------------------------------------


def _log_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def trigger_logs(dag_logs: Path) -> dict[str, Path]:
    """run_id -> the trigger log of its first try."""
    return {
        path.parent.parent.name.removeprefix("run_id="): path
        for path in dag_logs.glob("run_id=*/task_id=run/attempt=1.log.trigger.*.log")
    }


def trigger_marks(path: Path) -> dict[str, datetime]:
    """When the trigger of this log started, saw the end and ended the task (Craft trigger: it
    reads the outputs and copies the logs first), and fired its event (after its XCom pushes)."""
    found: dict[str, datetime] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        event = str(record.get("event", ""))
        if event == FIRED:
            mark = "fired"
        elif event.startswith("trigger ") and event.endswith(STARTING):
            mark = "started"
        elif SAW_END.match(event):
            mark = "saw end"
        elif event.startswith(ENDED):
            mark = "ended on triggerer"
        else:
            continue
        found.setdefault(mark, _log_time(record["timestamp"]))
    return found


class StartedTriggers:
    """Counts the variant's triggers that the triggerer has started (their log says so): a task
    is ``deferred`` in the database before the triggerer runs its trigger.

    :param dag_logs: the DAG's task-log folder.
    :param run_ids: the variant's runs.
    """

    def __init__(self, dag_logs: Path, run_ids: Sequence[str]) -> None:
        self.dag_logs = dag_logs
        self.wanted = set(run_ids)
        self.started: set[str] = set()

    def count(self) -> int:
        for run_id, path in trigger_logs(self.dag_logs).items():
            fresh = run_id in self.wanted and run_id not in self.started
            if fresh and "started" in trigger_marks(path):
                self.started.add(run_id)
        return len(self.started)


def resume_starts(starts_file: Path, dag_id: str) -> dict[str, datetime]:
    """run_id -> when a worker started the task the last time (its resume after the trigger)."""
    found: dict[str, datetime] = {}
    for line in starts_file.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0] == dag_id:
            found[fields[1]] = datetime.fromtimestamp(float(fields[4]), UTC)
    return found


def peak_logged_triggers(log: str) -> int:
    """The largest "N triggers currently running" in the triggerer's log."""
    peak = 0
    for line in log.splitlines():
        if "triggers currently running" in line:
            words = line.split("triggers currently running")[0].split()
            if words and words[-1].isdigit():
                peak = max(peak, int(words[-1]))
    return peak


def blocked_seconds(log: str) -> list[float]:
    """Each "async thread was blocked for X seconds" the triggerer logged."""
    found = []
    for line in log.splitlines():
        if "was blocked for" in line:
            word = line.split("was blocked for", 1)[1].split()[0]
            try:
                found.append(float(word))
            except ValueError:
                continue
    return found


#: The marks between a platform end and a task end, in their order.
MARK_ORDER = ("saw end", "ended on triggerer", "fired", "resumed")


def stretches(
    ends: dict[str, tuple[datetime, datetime]], marks: dict[str, dict[str, datetime]]
) -> dict[str, list[float]]:
    """The detection latency of each run, and its stretches between the marks the logs give:
    the trigger saw the end, fired its event, the task resumed on a worker.

    :param ends: run_id -> (the platform's end of its execution, the task's end).
    :param marks: run_id -> mark -> when.
    """
    found: dict[str, list[float]] = {"detection": []}
    for run_id, (execution_end, task_end) in ends.items():
        found["detection"].append((task_end - execution_end).total_seconds())
        mine = marks.get(run_id, {})
        names = ["platform end", *(m for m in MARK_ORDER if m in mine), "task end"]
        times = [execution_end, *(mine[m] for m in MARK_ORDER if m in mine), task_end]
        for i in range(len(names) - 1):
            stretch = f"{names[i]} -> {names[i + 1]}"
            found.setdefault(stretch, []).append((times[i + 1] - times[i]).total_seconds())
    return found


# -- the report ------------------------------------------------------------------------------


def _pair(values: Sequence[float]) -> str:
    return f"{sbs.percentile(values, 0.5):.2f} / {sbs.percentile(values, 0.99):.2f} s"


def report(results: list[Result], load_before: Sequence[float], pool: dict[str, Any]) -> None:
    n = results[0].n if results else 0
    print(f"\n{n} deferred tasks at once in one deployment (the gate pipeline):\n")
    headers = [
        "variant",
        "runs ok",
        "peak deferred (API / triggerer log)",
        "submit s",
        "drain s",
        "worker task starts",
        "worker slot-s",
        "triggerer peak RSS",
        "triggerer CPU s, submit / hold / drain",
        "triggerer % core, hold / drain",
        "platform % core, hold / drain",
        "HTTP req / run",
        "detection p50 / p99",
    ]
    rows = []
    for r in results:
        p = r.phases
        rows.append(
            [
                VARIANTS[r.key],
                f"{r.succeeded}/{r.n}",
                f"{r.peak_deferred} / {r.peak_logged or '-'}",
                f"{p['submit'].seconds:.0f}",
                f"{p['drain'].seconds:.0f}",
                str(r.starts),
                f"{r.slot_seconds:.0f}",
                f"{c.mib(r.triggerer_peak_rss)} MiB",
                " / ".join(f"{p[k].triggerer_cpu:.1f}" for k in ("submit", "hold", "drain")),
                " / ".join(p[k].share(p[k].triggerer_cpu) for k in ("hold", "drain")),
                " / ".join(p[k].share(p[k].platform_cpu) for k in ("hold", "drain")),
                f"{r.requests / r.n:.1f}",
                _pair(r.stretches.get("detection", [])),
            ]
        )
    print(c.table(headers, rows))
    print("\nWhere the detection time goes (p50 / p99 of each stretch):\n")
    names = list(dict.fromkeys(k for r in results for k in r.stretches))
    split_rows = [
        [VARIANTS[r.key], *(_pair(r.stretches[k]) if k in r.stretches else "-" for k in names)]
        for r in results
    ]
    print(c.table(["variant", *names], split_rows))
    print("\nPeak PSS (proportional set size) of each process tree (sampled every second):\n")
    trees = list(dict.fromkeys(k for r in results for k in r.peak_trees))
    rss_rows = [
        [
            VARIANTS[r.key],
            *(f"{c.mib(r.peak_trees.get(t, 0))} MiB" for t in trees),
            f"{c.mib(r.peak_total)} MiB",
        ]
        for r in results
    ]
    print(c.table(["variant", *trees, "all, at once"], rss_rows))
    load_after = os.getloadavg()
    model = sbs._cpu_model()
    print(
        f"\nMachine: {os.cpu_count()} cores{f' ({model})' if model else ''}; load average (1/5/15"
        f" min) before {sbs._loads(load_before)}, after {sbs._loads(load_after)}."
    )
    print(
        f"default_pool: {pool.get('slots')} slots, include_deferred={pool.get('include_deferred')}"
    )
    for r in results:
        hold = r.phases["hold"]
        blocked = f"{len(r.blocked)}, longest {max(r.blocked):.2f} s" if r.blocked else "0"
        split_runs = sum(len(v) for k, v in r.stretches.items() if k.endswith("-> fired"))
        print(
            f"  {r.key}: load at start {sbs._loads(r.load_before)}; hold {hold.seconds:.0f} s "
            f"(fewest deferred meanwhile {r.held_min}); "
            f"starts seen {r.starts_seen} (callback {r.starts}); runs with a fired-event line "
            f"{split_runs}/{r.succeeded}; triggerer 'blocked' warnings: {blocked}"
        )


# -- main ------------------------------------------------------------------------------------


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=_positive(int), default=1000, help="tasks (default 1000)")
    parser.add_argument(
        "--variants", default="d,e30", help="comma-separated, among d, e30 (default both)"
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=60.0,
        help="seconds the gate stays closed once all tasks are deferred (default 60)",
    )
    parser.add_argument(
        "--parallelism", type=_positive(int), default=8, help="[core] parallelism (default 8)"
    )
    parser.add_argument(
        "--platform-concurrency",
        type=_positive(int),
        default=24,
        help="the platform's --max-concurrency (default 24)",
    )
    args = parser.parse_args()
    keys = [k.strip() for k in args.variants.split(",") if k.strip()]
    unknown = [k for k in keys if k not in VARIANTS]
    if unknown or not keys:
        parser.error(f"--variants: unknown {unknown}; expected some of {', '.join(VARIANTS)}")
    sbs.stack.assert_installed_provider()
    # A stop (SIGTERM) still stops every process the benchmark started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with c.temp_root("craft-bench-scale-") as root:
        # Run as root, the platform runs pipeline code as a user of its own: the gate pipeline
        # must reach its gate file here by name.
        root.chmod(0o711)
        scale(root, args, keys)


def scale(root: Path, args: argparse.Namespace, keys: list[str]) -> None:
    """The deployment under ``root``, each variant of ``keys`` in turn, then the report."""
    load_before = os.getloadavg()
    c.progress(f"load average before: {sbs._loads(load_before)}")
    started = time.monotonic()
    extra_env = {
        "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
        "AIRFLOW__TRIGGERER__CAPACITY": str(max(1000, args.n + 10)),
    }
    with (
        sbs.deployment_for(
            root,
            args.n,
            max_concurrency=args.platform_concurrency,
            extra_env=extra_env,
            dag_ids=SCALE_DAG_IDS.values(),
        ) as bench,
    ):
        pool = bench.api.get("/pools/default_pool")

        def run(key: str) -> Result:
            c.progress(f"{VARIANTS[key]}: {args.n} tasks")
            result = run_variant(key, args.n, args.hold, bench, root)
            c.progress(
                f"  {result.succeeded}/{args.n} succeeded; drain "
                f"{result.phases['drain'].seconds:.0f} s"
            )
            done.append(result)
            # Each variant's figures as soon as it has ended (a long run may be cut short).
            report(done, load_before, pool)
            return result

        done: list[Result] = []
        results = sbs.run_each(bench, keys, run)
    c.progress(f"benchmark took {time.monotonic() - started:.0f} s")
    if any(r.succeeded < r.n for r in results):
        print("\nSome runs did not succeed: rerun with BENCH_KEEP=1 and read the processes' logs.")
        sys.exit(1)


if __name__ == "__main__":
    main()
