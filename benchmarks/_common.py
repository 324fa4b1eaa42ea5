"""Shared set-up of the benchmarks: a temporary Airflow home, the embedded platform, DAG runs
through ``dag.test()``, quiet output and small tables.

Airflow reads its configuration when first imported: call :func:`airflow_env` before anything
imports airflow (each script imports airflow inside functions only).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PIPELINES = REPO / "craft_local" / "examples"
BENCH_PIPELINES = REPO / "benchmarks" / "pipelines"
SDK_TOKEN = "bench-sdk-token-5c1d"
_PROGRESS = os.fdopen(os.dup(2), "w", buffering=1)


def progress(message: str) -> None:
    """One line on the real stderr, also while :func:`quiet` hides the rest."""
    _PROGRESS.write(f"  .. {message}\n")


def airflow_env(root: Path) -> Path:
    """Point Airflow at a fresh home under ``root`` (SQLite DB, no examples); return it."""
    home = root / "airflow-home"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(home / "dags")
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    return home


def init_db() -> None:
    """Create the metadata DB and the DAG bundle rows ``dag.test()`` needs."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.utils import db

    db.initdb()
    DagBundlesManager().sync_bundles_to_db()


def pipelines_dir(root: Path) -> Path:
    """The example pipelines and the benchmark pipelines in one declared-pipelines folder."""
    target = root / "pipelines"
    for source in (EXAMPLE_PIPELINES, BENCH_PIPELINES):
        for folder in source.iterdir():
            if (folder / "pipeline.json").is_file():
                shutil.copytree(folder, target / folder.name, dirs_exist_ok=True)
    return target


def platform(root: Path, *extra_args: str) -> Any:
    """An (unstarted) embedded platform on a free loopback port, data under ``root``."""
    from craft_local.server import EmbeddedPlatform

    return EmbeddedPlatform(
        root / "platform",
        sdk_token=SDK_TOKEN,
        pipelines_dir=pipelines_dir(root),
        extra_args=list(extra_args),
        shutdown_grace_seconds=5,
    )


def set_connection(
    url: str, *, sdk_token: str | None = SDK_TOKEN, control_url: str | None = None, **extra: Any
) -> None:
    """``AIRFLOW_CONN_CRAFT_AI_DEFAULT`` pointing at ``url``."""
    conn: dict[str, Any] = {
        "conn_type": "craftai",
        "host": url,
        "extra": {"control_url": control_url or url, **extra},
    }
    if sdk_token:
        conn["password"] = sdk_token
    os.environ["AIRFLOW_CONN_CRAFT_AI_DEFAULT"] = json.dumps(conn)


def run_dag(dag: Any) -> str:
    """Register ``dag`` in the metadata DB and run it with ``dag.test()``; return its state."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return str(dag.test(logical_date=None).state)


@contextlib.contextmanager
def quiet(log_path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors included) to ``log_path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def temp_root(prefix: str) -> Iterator[Path]:
    """A temporary folder removed at the end (``BENCH_KEEP=1`` keeps it)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (pastes into docs/performance.md as it is)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def process_memory(pid: int | str = "self", field: str = "VmRSS") -> int:
    """``field`` of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``...) in bytes; 0 once the process
    is gone (a sampled process may end between listing and reading)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f}"
