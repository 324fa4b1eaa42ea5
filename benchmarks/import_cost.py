"""Import time and module count of the provider's DAG-facing modules, in a fresh interpreter.

Each target is imported in a new ``python -c`` process (``AIRFLOW_HOME`` a temporary folder):
best and median of N wall times measured inside the child around the import, the number of
modules it added to ``sys.modules``, and the ``-X importtime`` total (best of 3 more runs) (the sum
of the cumulative times of the top-level imports). "after airflow.sdk" rows import
``airflow.sdk`` first, untimed: what the provider adds to a DAG file that already imports it.

Usage: ``python benchmarks/import_cost.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import _common as c

CRAFT_MODULES = (
    "craft_airflow.operators.pipeline",
    "craft_airflow.operators.endpoint",
    "craft_airflow.sensors.execution",
)
#: (label, statement timed, statement run before it untimed)
TARGETS = (
    ("airflow.sdk", "import airflow.sdk", ""),
    *((m, f"import {m}", "") for m in CRAFT_MODULES),
    *((f"{m}, after airflow.sdk", f"import {m}", "import airflow.sdk") for m in CRAFT_MODULES),
    ("the three, after airflow.sdk", f"import {', '.join(CRAFT_MODULES)}", "import airflow.sdk"),
)
HEAVY = ("requests", "httpx", "aiohttp", "fsspec", "craft_airflow.hooks.craft", "sqlalchemy")

PROBE = """
import json, sys, time
{setup}
before = set(sys.modules)
started = time.perf_counter()
{statement}
seconds = time.perf_counter() - started
added = set(sys.modules) - before
heavy = [m for m in {heavy!r} if m in added]
print(json.dumps({{"seconds": seconds, "modules": len(added), "heavy": heavy}}))
"""


def probe(statement: str, setup: str = "") -> dict:
    code = PROBE.format(setup=setup, statement=statement, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def importtime_total(statement: str, setup: str = "") -> float:
    """Sum of the cumulative µs of top-level imports under ``-X importtime``, in seconds.

    After a ``setup``, only the ``craft_airflow`` entries count (the modules they pull in are
    nested under them).
    """
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{setup}; {statement}" if setup else statement],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    total = 0
    for line in out.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit() or parts[2].startswith("  "):
            continue  # not a top-level entry (those have no indentation before the name)
        if not setup or parts[2].strip().startswith("craft_airflow"):
            total += int(parts[1])
    return total / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per target (best kept)")
    args = parser.parse_args()
    rows = []
    with c.temp_root("craft-bench-import-") as root:
        c.airflow_env(root)
        os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
        probe("import airflow.sdk")  # warm the OS file cache
        for label, statement, setup in TARGETS:
            c.progress(label)
            runs = [probe(statement, setup) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["seconds"])
            rows.append(
                [
                    label,
                    f"{best['seconds']:.2f}",
                    f"{sorted(r['seconds'] for r in runs)[len(runs) // 2]:.2f}",
                    best["modules"],
                    f"{min(importtime_total(statement, setup) for _ in range(3)):.2f}",
                    ", ".join(best["heavy"]) or "none",
                ]
            )
    print(f"\nImport cost in a fresh interpreter (best and median of {args.repeat}):\n")
    headers = [
        "import",
        "best s",
        "median s",
        "modules added",
        "-X importtime s (best of 3)",
        "loaded",
    ]
    print(c.table(headers, rows))
    print(f"\n'loaded' lists which of {', '.join(HEAVY)} the import pulled in.")


if __name__ == "__main__":
    main()
