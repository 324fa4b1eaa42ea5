"""Worker starts of the benchmark DAGs, counted by their ``on_execute_callback``, and the DAG
that counts them.

``on_execute_callback`` runs each time a worker process runs a task (the first start and every
resume of a deferred task); :func:`count_start` appends one line per start to the file named by
``CRAFT_BENCH_STARTS``: ``dag_id run_id try_number pid unix_time``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from airflow.sdk import DAG


def count_start(context: Any) -> None:
    """Append this start to ``CRAFT_BENCH_STARTS`` (nothing when unset)."""
    path = os.environ.get("CRAFT_BENCH_STARTS")
    if not path:
        return
    ti = context["ti"]
    line = f"{ti.dag_id} {ti.run_id} {ti.try_number} {os.getpid()} {time.time():.3f}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def counted_dag(dag_id: str) -> DAG:
    """A benchmark DAG (no schedule, no retries) whose tasks count their worker starts."""
    return DAG(
        dag_id,
        schedule=None,
        catchup=False,
        tags=["craft-ai", "benchmark"],
        default_args={"retries": 0, "on_execute_callback": count_start},
    )
