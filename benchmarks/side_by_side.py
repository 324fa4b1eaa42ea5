"""The same work side by side under a real deployment: N runs of a 10-second pipeline per variant.

One run of this script starts PostgreSQL, the embedded platform (``craft-local serve``,
``--max-concurrency`` above N so that the platform never queues) and an Airflow deployment from
``tests/deployment`` (api-server, scheduler with the LocalExecutor at ``parallelism=4``,
dag-processor and triggerer, each its own process, on 127.0.0.1), then runs the variants one
after the other. Each variant is one DAG of ``benchmarks/side_by_side_dags`` (one task running
the ``slow`` pipeline with ``seconds=10``), triggered N times at once through the REST API:

- (a) the official ``craft-ai-sdk`` (``CraftAiSdk(...).run_pipeline``) in a ``PythonOperator``;
- (b) ``CraftRunPipelineOperator`` waiting on the worker (``deferrable=False``);
- (c) deferrable, resuming on the worker (``finish_on_triggerer=False``);
- (d) deferrable, finishing on the triggerer (the default);
- (e) a fixed-interval status poll from the triggerer as the dbt Cloud and Databricks triggers do
  (``side_by_side_dags/fixed_interval_poll.py``), every 30 s (their default) and every 5 s.

Before each variant the triggerer is restarted (a fresh process, so that no variant inherits the
memory of another) and warmed up by one run of the variant (of the 5-s poll for the 30-s one:
the same trigger class, sooner), not counted; then the platform's request counter is reset.
``max_active_runs`` and ``max_active_tasks`` per DAG are raised to N (the default 16 would queue
the deferrable variants); everything else is Airflow's default. ``--no-warm-up`` skips the
warm-up runs.

How each column is measured:

- **wall, all N**: from just before the first of the N ``POST /dagRuns`` to the latest
  ``end_date`` of the N DAG runs (as the scheduler recorded it).
- **worker task starts**: lines written by the DAGs' ``on_execute_callback``, which runs every
  time a worker process runs the task (first start and each resume of a deferred task), counted
  for the variant's run ids. Cross-checked with the sampler below (starts it saw: a LocalExecutor
  worker's process title turning to a task's name), printed under the table.
- **worker slot-seconds**: a thread samples, every 0.1 s, the process titles of the
  LocalExecutor's worker processes (children of the scheduler): a worker whose title is not
  ``<idle>`` holds a slot. The sum of busy workers times the time between samples, from the
  first trigger until every worker is idle again.
- **triggerer peak RSS**: the same sampler sums the RSS (``VmRSS`` of ``/proc/<pid>/status``) of the
  triggerer's processes (the ``airflow triggerer`` process and its trigger-runner child); the
  largest sum during the variant.
- **HTTP requests / run**: the platform's own request counter (``GET /_local/faults``, counter
  ``requests``: every request to ``/api/v1/*`` and ``/endpoints/*`` except
  ``/api/v1/environment-info``, which no variant calls), reset before the variant, read once its
  runs ended, divided by N. Includes token refreshes, log copies and output reads.
- **detection p50 / p99**: for each successful run, the task instance's ``end_date`` minus the
  platform's ``end_date`` of its execution (from ``GET /pipelines/slow/executions``, matched by
  the task's ``execution_id`` XCom). Nearest-rank percentiles: p99 is the maximum below 100 runs.

Ratios are to (a) when (a) ran. The machine's cores and load averages (before and after) are
printed with the table; the machine is shared, so wall times and latencies are noisy, counts and
memory much less so.

Usage: ``make bench-deployment`` (``BENCH_ARGS="--n 4 --variants b,d"`` for a quick run), or
``.venv-deploy/bin/python benchmarks/side_by_side.py [--n 40] [--variants a,b,c,d,e]``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform as host
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import _common as c

DAGS = c.REPO / "benchmarks" / "side_by_side_dags"
sys.path[:0] = [str(c.REPO / "tests"), str(DAGS)]
from bench_variants import DAG_IDS, INPUTS, PIPELINE  # noqa: E402
from conditions import wait_until  # noqa: E402
from deployment import stack  # noqa: E402
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment  # noqa: E402
from deployment.services import PostgresServer  # noqa: E402

from craft_local.server import free_port  # noqa: E402

VARIANTS = {
    "a": "(a) craft-ai-sdk `run_pipeline` in a `PythonOperator`",
    "b": "(b) `CraftRunPipelineOperator`, waits on the worker",
    "c": "(c) deferrable, resumes on the worker",
    "d": "(d) deferrable, finishes on the triggerer",
    "e30": "(e) fixed-interval poll from the triggerer, 30 s",
    "e5": "(e) fixed-interval poll from the triggerer, 5 s",
}
#: ``--variants`` shorthands.
ALIASES = {"e": ("e30", "e5")}
R = TypeVar("R")
WORKER_TITLE = "airflow worker -- LocalExecutor:"
SAMPLE_SECONDS = 0.1
TIMES = "\u00d7"


# -- processes, from /proc -------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return found


def _tree(pid: int) -> list[int]:
    """``pid`` and its living descendants."""
    found, todo = [pid], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _title(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def worker_titles(scheduler_pid: int) -> dict[int, str]:
    """PID -> process title of each LocalExecutor worker (``... <idle>`` when it holds no task)."""
    titles = {p: _title(p) for p in _children(scheduler_pid)}
    return {p: t for p, t in titles.items() if t.startswith(WORKER_TITLE)}


def busy_workers(scheduler_pid: int) -> int:
    return sum(not t.endswith("<idle>") for t in worker_titles(scheduler_pid).values())


class Sampler(threading.Thread):
    """Every ``SAMPLE_SECONDS``: busy LocalExecutor workers (slot-seconds, starts seen) and the
    triggerer's RSS (peak).

    :param scheduler_pid: the scheduler (its children are the LocalExecutor's workers).
    :param triggerer_pid: the triggerer.
    """

    def __init__(self, scheduler_pid: int, triggerer_pid: int) -> None:
        super().__init__(daemon=True)
        self.scheduler_pid = scheduler_pid
        self.triggerer_pid = triggerer_pid
        self.slot_seconds = 0.0
        self.starts_seen = 0
        self.busy = 0
        self.peak_rss = 0
        self._titles: dict[int, str] = {}
        self._done = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self._done.is_set():
            self._sample(last)
            last = time.monotonic()
            self._done.wait(SAMPLE_SECONDS)
        self._sample(last)

    def _sample(self, last: float) -> None:
        busy = 0
        for pid, title in worker_titles(self.scheduler_pid).items():
            if not title.endswith("<idle>"):
                busy += 1
                if self._titles.get(pid) != title:
                    self.starts_seen += 1
            self._titles[pid] = title
        # The slots seen busy now were busy since the last sample (at most 0.1 s of error each).
        self.slot_seconds += busy * (time.monotonic() - last)
        self.busy = busy
        rss = sum(c.process_memory(p) for p in _tree(self.triggerer_pid))
        self.peak_rss = max(self.peak_rss, rss)

    def stop(self) -> None:
        self._done.set()
        self.join(10)


# -- one variant -----------------------------------------------------------------------------


@dataclass
class Result:
    key: str
    n: int
    load_before: float
    wall: float = math.nan
    succeeded: int = 0
    states: Counter[str] = field(default_factory=Counter)
    starts: int = 0
    starts_seen: int = 0
    slot_seconds: float = 0.0
    peak_rss: int = 0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)


@dataclass
class Bench:
    """The running deployment of one benchmark run."""

    deployment: AirflowDeployment
    api: AirflowAPI
    platform: stack.PlatformAPI
    starts_file: Path


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def restart_triggerer(deployment: AirflowDeployment, api: AirflowAPI) -> None:
    """Stop the triggerer by its PID and start a fresh one; wait for its first heartbeat."""
    deployment.service("triggerer").stop(timeout=30)
    since = datetime.now(UTC)
    service = deployment.start("triggerer", "triggerer", "--skip-serve-logs")

    def beating() -> bool:
        service.check_alive()
        health = api.client.get("/api/v2/monitor/health").json().get("triggerer") or {}
        beat = _when(health.get("latest_triggerer_heartbeat"))
        return health.get("status") == "healthy" and beat is not None and beat > since

    wait_until(beating, timeout=180, what="the restarted triggerer's heartbeat")


def list_runs(api: AirflowAPI, dag_id: str) -> dict[str, dict[str, Any]]:
    """run_id -> DAG run, every run of ``dag_id`` (pages of 100)."""
    runs: dict[str, dict[str, Any]] = {}
    while True:
        page = api.get(f"/dags/{dag_id}/dagRuns", limit=100, offset=len(runs))["dag_runs"]
        runs.update((r["dag_run_id"], r) for r in page)
        if len(page) < 100:
            return runs


def trigger_runs(
    api: AirflowAPI, dag_id: str, n: int, conf: dict[str, Any] | None = None
) -> list[str]:
    """Unpause ``dag_id`` and trigger it ``n`` times (each run with ``conf``); the run ids."""
    api.send("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
    return [str(api.send("POST", f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]) for _ in range(n)]


def wait_runs(
    api: AirflowAPI, dag_id: str, run_ids: Sequence[str], timeout: float
) -> dict[str, dict[str, Any]]:
    """The DAG runs ``run_ids`` once every one of them has ended."""

    def ended() -> dict[str, dict[str, Any]] | None:
        api.deployment.check_alive()
        runs = list_runs(api, dag_id)
        mine = {r: runs[r] for r in run_ids if r in runs}
        done = all(mine.get(r, {}).get("state") in ("success", "failed") for r in run_ids)
        return mine if done else None

    what = f"the {len(run_ids)} runs of {dag_id} to end"
    found: dict[str, dict[str, Any]] = wait_until(ended, timeout, what, interval=1.0)
    return found


def started_runs(starts_file: Path, dag_id: str, run_ids: Sequence[str]) -> int:
    """Worker starts that ``on_execute_callback`` recorded for these runs."""
    wanted = set(run_ids)
    if not starts_file.exists():
        return 0
    count = 0
    for line in starts_file.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == dag_id and fields[1] in wanted:
            count += 1
    return count


def run_variant(key: str, n: int, bench: Bench, *, warm_up: bool = True) -> Result:
    """N runs of the variant ``key`` at once, measured (after one warm-up run)."""
    deployment, api, platform = bench.deployment, bench.api, bench.platform
    dag_id = DAG_IDS[key]
    restart_triggerer(deployment, api)
    if warm_up:
        # A first trigger in a fresh triggerer runs late (imports, first connection read).
        warm_dag = DAG_IDS["e5" if key == "e30" else key]
        wait_runs(api, warm_dag, trigger_runs(api, warm_dag, 1), timeout=600)
    scheduler = deployment.service("scheduler").pid
    # A worker can still be winding down a task whose run has ended: start measuring after.
    wait_until(lambda: busy_workers(scheduler) == 0, 60, "every worker slot to be free")
    result = Result(key, n, os.getloadavg()[0])
    sampler = Sampler(scheduler, deployment.service("triggerer").pid)
    reset = platform.client.put("/_local/faults", json={"reset_counters": True})
    assert reset.status_code == 200, reset.text
    sampler.start()
    try:
        started = time.time()
        run_ids = trigger_runs(api, dag_id, n)
        runs = wait_runs(api, dag_id, run_ids, timeout=300 + 20 * n)
        counters = platform.client.get("/_local/faults").json()["counters"]
        result.requests = int(counters.get("requests", 0))
        wait_until(lambda: sampler.busy == 0, timeout=60, what="every worker slot to be free")
    finally:
        sampler.stop()
    ends = [e.timestamp() for r in runs.values() if (e := _when(r.get("end_date")))]
    result.wall = max(ends) - started
    result.states = Counter(str(r["state"]) for r in runs.values())
    result.succeeded = result.states["success"]
    result.starts = started_runs(bench.starts_file, dag_id, run_ids)
    result.starts_seen = sampler.starts_seen
    result.slot_seconds = sampler.slot_seconds
    result.peak_rss = sampler.peak_rss
    result.latencies = detection_latencies(api, platform, dag_id, runs)
    return result


def execution_and_task_ends(
    api: AirflowAPI,
    platform: stack.PlatformAPI,
    dag_id: str,
    runs: dict[str, dict[str, Any]],
    pipeline: str = PIPELINE,
) -> dict[str, tuple[datetime, datetime]]:
    """run_id -> (the platform's end of its execution, the end of its task ``run``), for each
    successful run.

    :param pipeline: the pipeline the task ran.
    """
    executions = {e["execution_id"]: e for e in platform.executions(pipeline)}
    found = {}
    for run_id, run in runs.items():
        if run["state"] != "success":
            continue
        (task,) = [t for t in api.task_instances(dag_id, run_id) if t["task_id"] == "run"]
        execution_id = api.xcom(dag_id, run_id, "run", "execution_id")
        task_end = _when(task["end_date"])
        execution_end = _when(executions[execution_id]["end_date"])
        assert task_end and execution_end, (run_id, task, executions[execution_id])
        found[run_id] = (execution_end, task_end)
    return found


def detection_latencies(
    api: AirflowAPI, platform: stack.PlatformAPI, dag_id: str, runs: dict[str, dict[str, Any]]
) -> list[float]:
    """Task end minus execution end (platform), in seconds, for each successful run."""
    ends = execution_and_task_ends(api, platform, dag_id, runs)
    return [(task - execution).total_seconds() for execution, task in ends.values()]


# -- the report ------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _ratio(value: float, base: float | None) -> str:
    if base is None or math.isnan(value) or math.isnan(base):
        return ""
    if base == 0:
        return " (—)" if value else f" (1.00{TIMES})"
    return f" ({value / base:.2f}{TIMES})"


def report(results: list[Result], load_before: Sequence[float], cores: int) -> None:
    base = next((r for r in results if r.key == "a"), None)

    def cell(r: Result, value: float, text: str, pick: Any) -> str:
        return text + _ratio(value, None if base is None else pick(base))

    rows = []
    for r in results:
        p50, p99 = percentile(r.latencies, 0.5), percentile(r.latencies, 0.99)
        per_run = r.requests / r.n
        rows.append(
            [
                VARIANTS[r.key],
                f"{r.succeeded}/{r.n}",
                cell(r, r.wall, f"{r.wall:.1f} s", lambda b: b.wall),
                cell(r, r.starts, str(r.starts), lambda b: b.starts),
                cell(r, r.slot_seconds, f"{r.slot_seconds:.0f}", lambda b: b.slot_seconds),
                cell(r, r.peak_rss, f"{c.mib(r.peak_rss)} MiB", lambda b: b.peak_rss),
                cell(r, per_run, f"{per_run:.1f}", lambda b: b.requests / b.n),
                cell(r, p50, f"{p50:.2f} s", lambda b: percentile(b.latencies, 0.5)),
                cell(r, p99, f"{p99:.2f} s", lambda b: percentile(b.latencies, 0.99)),
            ]
        )
    n = results[0].n if results else 0
    print(f"\nSide by side, N = {n} runs of a {INPUTS['seconds']}-second pipeline per variant:\n")
    headers = [
        "variant",
        "runs ok",
        "wall, all N",
        "worker task starts",
        "worker slot-s",
        "triggerer peak RSS",
        "HTTP req / run",
        "detection p50",
        "detection p99",
    ]
    print(c.table(headers, rows))
    load_after = os.getloadavg()
    model = _cpu_model()
    print(
        f"\nMachine: {cores} cores{f' ({model})' if model else ''}, {host.platform()}, Python "
        f"{host.python_version()}; load average (1/5/15 min) before "
        f"{_loads(load_before)}, after {_loads(load_after)}."
    )
    print("\nPer variant: 1-min load average at its start; worker starts seen by the sampler")
    for r in results:
        states = ", ".join(f"{k} {v}" for k, v in sorted(r.states.items()))
        print(
            f"  {r.key}: load {r.load_before:.2f}; starts seen {r.starts_seen} "
            f"(callback {r.starts}); run states: {states}"
        )
    if any(r.succeeded < r.n for r in results):
        print("\nSome runs did not succeed: rerun with BENCH_KEEP=1 and read the processes' logs.")
        sys.exit(1)


def _loads(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


# -- main ------------------------------------------------------------------------------------


def parse_variants(text: str) -> list[str]:
    keys: list[str] = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        expanded = ALIASES.get(item, (item,))
        for key in expanded:
            if key not in VARIANTS:
                raise SystemExit(
                    f"--variants: unknown variant {item!r}; expected some of "
                    f"{', '.join([*VARIANTS, *ALIASES])}"
                )
            if key not in keys:
                keys.append(key)
    return keys


@contextmanager
def deployment_for(
    root: Path,
    n: int,
    *,
    max_concurrency: int | None = None,
    extra_env: dict[str, str] | None = None,
    dag_ids: Iterable[str] = DAG_IDS.values(),
) -> Iterator[Bench]:
    """PostgreSQL, the platform and the Airflow deployment; every process stopped at the end.

    :param n: runs at once (raises Airflow's per-DAG limits to it).
    :param max_concurrency: the platform's ``--max-concurrency``; by default above ``n``, so that
        the platform never queues.
    :param extra_env: more Airflow settings for every component.
    :param dag_ids: the DAGs to wait for.
    """
    with ExitStack() as stack_:
        postgres = PostgresServer(free_port(), root / "postgres.log")
        stack_.callback(postgres.stop)
        c.progress("starting PostgreSQL and the embedded platform")
        postgres.start()
        platform = stack_.enter_context(
            stack.embedded_platform(root, max_concurrency=max_concurrency or max(24, n + 8))
        )
        starts_file = root / "worker-starts.log"
        env = {
            # The triggerer imports the 30-s/5-s poll trigger by classpath, as the workers do.
            "PYTHONPATH": str(DAGS),
            "CRAFT_BENCH_STARTS": str(starts_file),
            # N runs of one DAG at once (the defaults, 16, would queue the deferred variants).
            "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": str(max(16, n)),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(max(16, n)),
            **(extra_env or {}),
        }
        c.progress("starting Airflow (migrate, api-server, scheduler, dag-processor, triggerer)")
        deployment, api = stack_.enter_context(
            stack.airflow_deployment(
                "side-by-side",
                root,
                postgres,
                platform,
                extra_env=env,
                dag_folders={"side-by-side": DAGS},
                dag_ids=dag_ids,
            )
        )
        platform_api = stack.PlatformAPI(platform)
        stack_.callback(platform_api.close)
        yield Bench(deployment, api, platform_api, starts_file)


def run_each(bench: Bench, keys: Sequence[str], run: Callable[[str], R]) -> list[R]:
    """``run(key)`` for each variant in turn; the processes' logs on stderr when one fails."""
    try:
        return [run(key) for key in keys]
    except BaseException:
        print(bench.deployment.logs(), file=sys.stderr)
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="runs per variant (default 40)")
    parser.add_argument(
        "--variants",
        default="a,b,c,d,e",
        help="comma-separated, among a, b, c, d, e (= e30,e5), e30, e5 (default all)",
    )
    parser.add_argument("--no-warm-up", action="store_true", help="skip the warm-up runs")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    keys = parse_variants(args.variants)
    stack.assert_installed_provider()
    load_before = os.getloadavg()
    cores = os.cpu_count() or 0
    started = time.monotonic()
    with (
        c.temp_root("craft-bench-side-by-side-") as root,
        deployment_for(root, args.n) as bench,
    ):

        def run(key: str) -> Result:
            c.progress(f"{VARIANTS[key]}: {args.n} runs")
            result = run_variant(key, args.n, bench, warm_up=not args.no_warm_up)
            c.progress(
                f"  {result.succeeded}/{args.n} succeeded in {result.wall:.1f} s, "
                f"{result.starts} worker starts"
            )
            return result

        results = run_each(bench, keys, run)
    c.progress(f"benchmark took {time.monotonic() - started:.0f} s")
    report(results, load_before, cores)


if __name__ == "__main__":
    main()
