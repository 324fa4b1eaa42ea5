"""Peak memory of streaming large file outputs and inputs, Airflow side and platform side.

For each file size and case, a fresh Python process (its peak RSS is a high-water mark) runs a
``CraftRunPipelineOperator`` against the embedded platform (worker-wait, direct ``execute`` with
a minimal context, no proxy):

* ``output``: pipeline ``big-output`` writes a file output of the given size; the operator
  streams it to an ``ObjectStoragePath`` (``file://``) in ``finish_execution`` (the ending's
  ``StoreFile`` step);
* ``input``: pipeline ``big-input`` takes a local file of the given size as its file input.

The child first runs the same case with a 1 MiB file (imports and code paths warm), then resets
its peak RSS (``/proc/self/clear_refs``), runs the case and reports VmHWM - VmRSS before. The
platform server's peak is measured the same way around each case (pipeline children excluded).

Usage: ``python benchmarks/output_streaming_memory.py [--sizes-mib 16,256]``
(or ``BENCH_SIZES_MIB=16,256``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import _common as c

CASES = ("output", "input")
BLOCK = 2**20


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def reset_peak(pid: int | str = "self") -> bool:
    """Reset the peak RSS to the current RSS (Linux ``clear_refs`` 5); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def write_file(path: Path, size: int) -> None:
    block = os.urandom(BLOCK)
    with path.open("wb") as out:
        for offset in range(0, size, BLOCK):
            out.write(block[: min(BLOCK, size - offset)])


# -- child: one case in a fresh process -------------------------------------------------------


class StateStore(dict):
    """``task_state_store`` stand-in for ``ResumableJobMixin``."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value


def context(task_id: str) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="bench_memory", run_id="manual__bench", task_id=task_id, map_index=-1,
        try_number=1, stats_tags={}, xcoms={},
    )  # fmt: skip
    ti.xcom_push = lambda key, value: ti.xcoms.__setitem__(key, value)
    return {"ti": ti, "task_state_store": StateStore()}


def run_operator(case: str, size: int, work: Path, tag: str) -> Any:
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    if case == "output":
        op = CraftRunPipelineOperator(
            task_id=f"output_{tag}",
            pipeline_name="big-output",
            inputs={"size_bytes": size},
            output_storage=f"file://{work}/outputs",
            deferrable=False,
        )
        result = op.execute(context(op.task_id))
        stored = Path(result["blob"].removeprefix("file://"))
        assert stored.stat().st_size == size, (stored, stored.stat().st_size, size)
        stored.unlink()
        return result
    source = work / f"input-{tag}.bin"
    op = CraftRunPipelineOperator(
        task_id=f"input_{tag}",
        pipeline_name="big-input",
        inputs={"document": str(source)},
        deferrable=False,
    )
    result = op.execute(context(op.task_id))
    assert result["size_bytes"] == source.stat().st_size, result
    return result


def peak_figures(run: Callable[[int, str], Any], size: int, work: Path) -> None:
    """Child side: ``run(1 MiB, "warm")``, reset the peak RSS, ``run(size, "big")``; print the
    figures as one JSON line (the rest of the output goes to ``work/child.log``)."""
    with c.quiet(work / "child.log"):
        run(BLOCK, "warm")
        before = proc_status()["VmRSS"]
        reset = reset_peak()
        started = time.monotonic()
        run(size, "big")
        seconds = time.monotonic() - started
        after = proc_status()
    print(
        json.dumps(
            {"rss_before": before, "peak": after["VmHWM"], "seconds": seconds, "reset": reset}
        )
    )


def child(case: str, size: int, work: Path) -> None:
    """Warm up with 1 MiB, then measure ``case`` at ``size``; print one JSON line."""
    peak_figures(lambda n, tag: run_operator(case, n, work, tag), size, work)


def in_child(script: str, case: str, size: int, work: Path) -> dict[str, Any]:
    """Parent side: run ``script --child case`` in a fresh process; its figures."""
    answer = subprocess.run(
        [sys.executable, script, "--child", case, "--size", str(size), "--work", str(work)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if answer.returncode != 0:
        log = (work / "child.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"case {case} {size}: exit {answer.returncode}\n{answer.stderr}\n{log}")
    return json.loads(answer.stdout.strip().splitlines()[-1])


def arguments(cases: Sequence[str], default_sizes_mib: str) -> argparse.Namespace:
    """``--sizes-mib`` (or ``BENCH_SIZES_MIB``), and the child's hidden options."""
    parser = argparse.ArgumentParser(
        description=(sys.modules["__main__"].__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--sizes-mib", default=os.environ.get("BENCH_SIZES_MIB", default_sizes_mib))
    parser.add_argument("--child", choices=cases, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


# -- parent -----------------------------------------------------------------------------------


def measure(case: str, size: int, work: Path, platform_pid: int) -> dict[str, Any]:
    if case == "input":
        write_file(work / "input-warm.bin", BLOCK)
        write_file(work / "input-big.bin", size)
    platform_before = proc_status(platform_pid)["VmRSS"]
    platform_reset = reset_peak(platform_pid)
    figures = in_child(__file__, case, size, work)
    platform_peak = proc_status(platform_pid)["VmHWM"]
    for leftover in work.glob("input-*.bin"):
        leftover.unlink()
    return {
        **figures,
        "platform_before": platform_before,
        "platform_peak": platform_peak,
        "platform_reset": platform_reset,
    }


def main() -> None:
    args = arguments(CASES, "16,256")
    if args.child:
        child(args.child, args.size, args.work)
        return
    sizes = [int(float(s) * 2**20) for s in args.sizes_mib.split(",")]
    rows = []
    with c.temp_root("craft-bench-memory-") as root:
        c.airflow_env(root)  # inherited by the children
        work = root / "work"
        work.mkdir()
        limit = str(max(sizes) * 2 + 16 * BLOCK)  # the default 100 MiB would refuse big inputs
        with c.platform(root, "--max-request-bytes", limit) as platform:
            c.set_connection(platform.url)
            assert platform._proc is not None
            pid = platform._proc.pid
            for size in sizes:
                for case in CASES:
                    c.progress(f"{case}: {c.mib(size)} MiB")
                    f = measure(case, size, work, pid)
                    airflow_delta = f["peak"] - f["rss_before"]
                    platform_delta = f["platform_peak"] - f["platform_before"]
                    rows.append(
                        [
                            f"file {case}",
                            c.mib(size),
                            c.mib(airflow_delta),
                            f"{airflow_delta / size:.2f}",
                            c.mib(platform_delta),
                            f"{f['seconds']:.1f}",
                        ]
                    )
                    if not (f["reset"] and f["platform_reset"]):
                        print("warning: peak RSS could not be reset; deltas include the warm-up")
    print("\nPeak RSS growth while streaming one file (fresh process per case):\n")
    headers = [
        "case", "file MiB", "Airflow-side peak delta MiB", "delta / size",
        "platform server peak delta MiB", "task s",
    ]  # fmt: skip
    print(c.table(headers, rows))


if __name__ == "__main__":
    main()
