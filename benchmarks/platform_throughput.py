"""Executions per second the embedded platform sustains for a trivial pipeline.

For each ``--max-concurrency`` value, a fresh platform gets ``--count`` runs of ``noop``
submitted back to back (``CraftAIHook.run_pipeline``), then each is waited for; the figure is
executions / (last end - first submission), with the platform's own per-execution run time
(``start_date`` to ``end_date``: mostly the child Python process) beside it.

Usage: ``python benchmarks/platform_throughput.py [--count 100] [--concurrency 2,4]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime
from pathlib import Path

import _common as c


def parse_date(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def run_batch(root: Path, concurrency: int, count: int) -> list[object]:
    from craft_airflow.hooks.craft import CraftAIHook

    with c.platform(root / f"c{concurrency}", "--max-concurrency", str(concurrency)) as platform:
        c.set_connection(platform.url)
        hook = CraftAIHook()
        hook.get_pipeline("noop")  # token refreshed before the clock starts
        started = time.monotonic()
        ids = [hook.run_pipeline("noop") for _ in range(count)]
        submitted = time.monotonic() - started
        for execution_id in ids:
            event = hook.wait_for_outcome(execution_id, timeout=300, poll_interval=0.2)
            assert event.status == "success", event
        elapsed = time.monotonic() - started
        runs = []
        for execution_id in ids:
            execution = hook.get_execution(execution_id)
            runs.append(
                (
                    parse_date(execution["end_date"]) - parse_date(execution["start_date"])
                ).total_seconds()
            )
        hook.close()
    return [
        concurrency,
        count,
        f"{submitted:.2f}",
        f"{elapsed:.1f}",
        f"{count / elapsed:.1f}",
        f"{statistics.median(runs):.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="executions per batch")
    parser.add_argument("--concurrency", default="2,4", help="--max-concurrency values")
    args = parser.parse_args()
    rows = []
    with c.temp_root("craft-bench-throughput-") as root:
        c.airflow_env(root)
        for concurrency in (int(v) for v in args.concurrency.split(",")):
            c.progress(f"max-concurrency {concurrency}: {args.count} executions")
            with c.quiet(root / "bench.log"):
                rows.append(run_batch(root, concurrency, args.count))
    print("\nEmbedded platform throughput, trivial pipeline (noop):\n")
    headers = [
        "max-concurrency", "executions", "submit s", "all ended s", "executions/s",
        "median run s (start->end)",
    ]  # fmt: skip
    print(c.table(headers, rows))


if __name__ == "__main__":
    main()
