"""``make demo``: the example DAGs through a real Airflow against the embedded platform.

Starts the embedded Craft-compatible platform on a free port (temporary data folder), creates a
temporary AIRFLOW_HOME with a migrated SQLite metadata database, points the ``craft_ai_default``
connection at the platform (endpoint tokens read from its deployments with the SDK token), runs
each example DAG with ``airflow dags test``, prints what every task returned, and stops and
removes everything it started, also on Ctrl-C or failure. Exits non-zero if a DAG run fails.

    python -m craft_local.demo [--dag DAG_ID ...] [--no-deferrable] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from craft_local.connection import CONN_ID, connection_json

# Deployments whose endpoint token goes into the connection; the others are triggered with the
# SDK token, so the demo shows both routes.
ENDPOINTS_WITH_TOKEN = ("all-types-endpoint",)
PREVIEW_CHARS = 200
CONN_VARIABLE = f"AIRFLOW_CONN_{CONN_ID.upper()}"


def _find_example_dags() -> Path:
    for candidate in (
        Path(__file__).resolve().parents[1] / "example_dags",
        Path.cwd() / "example_dags",
    ):
        if (candidate / "craft_run_pipeline.py").is_file():
            return candidate
    raise SystemExit("example_dags/ not found: run the demo from the repository root")


def _print(text: str = "") -> None:
    print(text, flush=True)


def _airflow_env(
    home: Path, dags: Path, connection: str | None, deferrable: bool
) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": str(deferrable),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
    if connection is not None:
        env[CONN_VARIABLE] = connection
    return env


def _airflow(args: list[str], env: dict[str, str], log_path: Path) -> int:
    airflow_bin = Path(sys.executable).with_name("airflow")
    command = [str(airflow_bin) if airflow_bin.exists() else "airflow", *args]
    with log_path.open("ab") as log:
        # subprocess.run kills the child if we are interrupted while waiting.
        return subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _preview(value: Any) -> str:
    if isinstance(value, str) and value.startswith("file://"):
        try:
            from airflow.sdk import ObjectStoragePath

            content = ObjectStoragePath(value).read_text(errors="replace")
        except Exception:  # the URI is what matters; the preview is a courtesy
            return value
        return f"{value}\n{'':>12}content: {content[:PREVIEW_CHARS]!r}"
    return json.dumps(value, default=str) if not isinstance(value, str) else repr(value)


def _failure_reason(log_path: Path) -> list[str]:
    """The Craft error a failed task raised, as ``airflow dags test`` logged it (last one)."""
    lines = _tail(log_path, 4000).splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if "craft_airflow.errors.Craft" in lines[index]:
            block = [lines[index].split("craft_airflow.errors.", 1)[1]]
            for line in lines[index + 1 : index + 8]:
                if line.startswith(("20", "[")):  # the next log record
                    break
                block.append(line)
            return block
    return []


def _report(dag_id: str, log_path: Path) -> str | None:
    """Print each task's state and XComs of the DAG's last run; return the run's state."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dag_run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1)
        ).first()
        if dag_run is None:
            _print("  (no run recorded)")
            return None
        tis = session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run.run_id)
            .order_by(TaskInstance.start_date, TaskInstance.map_index)
        ).all()
        rows: list[Any] = list(
            session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id))
        )
        xcoms: dict[tuple[str, int], dict[str, Any]] = {}
        for row in rows:
            xcoms.setdefault((row.task_id, row.map_index), {})[row.key] = (
                XComModel.deserialize_value(row)
            )
        _print(f"  run {dag_run.run_id}: {dag_run.state}")
        for ti in tis:
            label = ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")
            values = xcoms.get((ti.task_id, ti.map_index), {})
            line = f"  - {label}: {ti.state}"
            if "execution_id" in values:
                line += f" (Craft AI execution {values['execution_id']})"
            _print(line)
            if str(ti.state) == "failed":
                for reason in _failure_reason(log_path):
                    _print(f"      {reason}")
            result = values.get("return_value")
            if isinstance(result, dict):
                for name, value in result.items():
                    _print(f"      {name:>10}: {_preview(value)}")
            elif "return_value" in values:
                _print(f"      returned: {_preview(result)}")
        return str(dag_run.state)


#: The tag of example DAGs that the platform drives (a scheduled execution, an asset event): one
#: manual run of them waits for what the demo does not make happen.
EVENT_DRIVEN_TAG = "event-driven"


def _dag_ids(dags: Path) -> list[str]:
    """The example DAG ids, parsed in this process, but for the event-driven ones."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags))
    if bag.import_errors:
        raise SystemExit(f"Example DAGs failed to import: {bag.import_errors}")
    return sorted(d for d, dag in bag.dags.items() if EVENT_DRIVEN_TAG not in dag.tags)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dag", action="append", help="run only this DAG (repeatable)")
    parser.add_argument(
        "--no-deferrable",
        dest="deferrable",
        action="store_false",
        help="wait in the worker instead of deferring (default: operators defer)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)

    # SIGTERM ends the demo like Ctrl-C does: through the finally blocks below.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    dags = _find_example_dags()
    work = Path(tempfile.mkdtemp(prefix="craft-airflow-demo-"))
    home = work / "airflow-home"
    home.mkdir()
    log_path = work / "airflow.log"
    # Airflow reads its configuration at import: set it before anything imports airflow.
    os.environ.update(_airflow_env(home, dags, None, args.deferrable))
    # This process only reads results; the DAG runs log (INFO) to airflow.log.
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"

    from craft_local.examples import EXAMPLE_PIPELINES
    from craft_local.server import EmbeddedPlatform

    sdk_token = "demo-" + secrets.token_hex(12)
    platform = EmbeddedPlatform(
        data_dir=work / "platform", sdk_token=sdk_token, pipelines_dir=EXAMPLE_PIPELINES
    )
    failed: list[str] = []
    try:
        _print(f"Starting the embedded Craft AI platform ({work / 'platform'}) ...")
        platform.start()
        _print(f"  listening on {platform.url}")

        os.environ[CONN_VARIABLE] = connection_json(platform.url, sdk_token)
        from craft_airflow.hooks.craft import CraftAIHook

        hook = CraftAIHook()
        tokens = {n: hook.get_deployment(n)["endpoint_token"] for n in ENDPOINTS_WITH_TOKEN}
        hook.close()
        connection = connection_json(platform.url, sdk_token, tokens)
        os.environ[CONN_VARIABLE] = connection
        env = _airflow_env(home, dags, connection, args.deferrable)

        _print(f"Migrating the Airflow metadata database ({home}) ...")
        if _airflow(["db", "migrate"], env, log_path) != 0:
            _print(_tail(log_path))
            raise SystemExit("airflow db migrate failed")

        dag_ids = args.dag or _dag_ids(dags)
        mode = "deferrable" if args.deferrable else "waiting in the worker"
        for dag_id in dag_ids:
            _print(f"\n=== {dag_id} (airflow dags test, {mode})")
            started = time.monotonic()
            code = _airflow(["dags", "test", dag_id], env, log_path)
            state = _report(dag_id, log_path)
            _print(f"  {time.monotonic() - started:.1f} s")
            if code != 0 or state != "success":
                failed.append(dag_id)
                _print(f"  FAILED (exit code {code}); last lines of {log_path}:")
                _print(_tail(log_path))
    except KeyboardInterrupt:
        _print("\nInterrupted.")
        return 130
    finally:
        platform.stop()
        _print("\nStopped the embedded platform.")
        if args.keep:
            _print(f"Kept {work} (Airflow log: {log_path})")
        else:
            shutil.rmtree(work, ignore_errors=True)

    if failed:
        _print(f"\n{len(failed)} DAG(s) failed: {', '.join(failed)}")
        return 1
    _print(f"\nAll {len(dag_ids)} example DAGs succeeded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
