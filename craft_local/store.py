"""Persistent state: SQLite for records, plain files under the data dir for payloads.

Every method is short and takes a lock, so the event loop and the runner threads can share
one connection; payload files are written by the callers under :meth:`Store.execution_dir`.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TERMINAL_STATUSES = frozenset({"Succeeded", "Skipped", "Failed", "Error"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    name TEXT PRIMARY KEY,
    parameters TEXT NOT NULL,
    code_dir TEXT NOT NULL,
    created_at TEXT NOT NULL,
    origin TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    name TEXT PRIMARY KEY,
    pipeline_name TEXT NOT NULL,
    endpoint_url_path TEXT UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    pipeline_name TEXT NOT NULL,
    deployment_name TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    start_date TEXT,
    end_date TEXT,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    error TEXT,
    timeout_s REAL
);
CREATE INDEX IF NOT EXISTS executions_pipeline ON executions (pipeline_name, seq);
CREATE INDEX IF NOT EXISTS executions_deployment ON executions (deployment_name, seq);
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL,
    ts REAL NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_execution ON logs (execution_id, seq);
CREATE TABLE IF NOT EXISTS deployment_ticks (
    deployment_name TEXT NOT NULL,
    tick TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'claimed',
    execution_id TEXT,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (deployment_name, tick)
);
CREATE TABLE IF NOT EXISTS metrics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (execution_id, kind, name)
);
CREATE TABLE IF NOT EXISTS environment_variables (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def now_iso(ts: float | None = None) -> str:
    """UTC ISO-8601 with milliseconds and a ``Z``, the platform's date format."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Store:
    """All records of one platform.

    :param data_dir: root folder; ``platform.db``, ``pipelines/``, ``executions/``
        and ``datastore/`` live under it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(data_dir / "platform.db", check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.commit()

    def close(self) -> None:
        """Close the database connection (at the end of a graceful stop)."""
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            cur = self._db.execute(sql, params)
            self._db.commit()
            return cur

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, params).fetchone()
            return row

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    # ---- folders -------------------------------------------------------------------
    @property
    def datastore_dir(self) -> Path:
        return self.data_dir / "datastore"

    def pipeline_code_dir(self, name: str) -> Path:
        return self.data_dir / "pipelines" / name / "code"

    def execution_dir(self, execution_id: str) -> Path:
        return self.data_dir / "executions" / execution_id

    # ---- pipelines -----------------------------------------------------------------
    def put_pipeline(self, parameters: dict[str, Any], code_dir: Path, origin: str) -> None:
        """Create or replace a pipeline.

        :param parameters: the validated parameters (§3.2).
        :param code_dir: folder holding the pipeline's code.
        :param origin: ``local`` (uploaded) or ``declared`` (``--pipelines``).
        """
        self._run(
            "INSERT INTO pipelines (name, parameters, code_dir, created_at, origin)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
            " parameters=excluded.parameters, code_dir=excluded.code_dir, origin=excluded.origin",
            (parameters["pipeline_name"], json.dumps(parameters), str(code_dir), now_iso(), origin),
        )

    def get_pipeline(self, name: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM pipelines WHERE name = ?", (name,))
        return _pipeline(row) if row else None

    def list_pipelines(self) -> list[dict[str, Any]]:
        return [_pipeline(r) for r in self._all("SELECT * FROM pipelines ORDER BY created_at")]

    def delete_pipeline(self, name: str) -> None:
        self._run("DELETE FROM pipelines WHERE name = ?", (name,))
        shutil.rmtree(self.data_dir / "pipelines" / name, ignore_errors=True)

    # ---- deployments ---------------------------------------------------------------
    def put_deployment(self, body: dict[str, Any]) -> None:
        """Create or replace a deployment object (§6)."""
        self._run(
            "INSERT INTO deployments (name, pipeline_name, endpoint_url_path, body)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
            " pipeline_name=excluded.pipeline_name,"
            " endpoint_url_path=excluded.endpoint_url_path, body=excluded.body",
            (
                body["name"],
                body["pipeline"]["name"],
                body.get("endpoint_url_path"),
                json.dumps(body),
            ),
        )

    def get_deployment(self, name: str) -> dict[str, Any] | None:
        row = self._one("SELECT body FROM deployments WHERE name = ?", (name,))
        return json.loads(row["body"]) if row else None

    def deployment_by_path(self, path: str) -> dict[str, Any] | None:
        """The deployment serving ``endpoint_url_path`` ``path``, if any."""
        row = self._one("SELECT body FROM deployments WHERE endpoint_url_path = ?", (path,))
        return json.loads(row["body"]) if row else None

    def list_deployments(self, pipeline_name: str | None = None) -> list[dict[str, Any]]:
        """Deployments by name, all or those of ``pipeline_name``."""
        if pipeline_name is None:
            rows = self._all("SELECT body FROM deployments ORDER BY name")
        else:
            rows = self._all(
                "SELECT body FROM deployments WHERE pipeline_name = ? ORDER BY name",
                (pipeline_name,),
            )
        return [json.loads(r["body"]) for r in rows]

    def delete_deployment(self, name: str) -> None:
        self._run("DELETE FROM deployments WHERE name = ?", (name,))
        self._run("DELETE FROM deployment_ticks WHERE deployment_name = ?", (name,))

    # ---- ticks of periodic deployments ----------------------------------------------
    def claim_tick(self, deployment_name: str, tick: str, note: str = "") -> bool:
        """Record that ``tick`` (ISO, UTC) of a deployment runs; ``False`` if already claimed."""
        cur = self._run(
            "INSERT OR IGNORE INTO deployment_ticks (deployment_name, tick, claimed_at, note)"
            " VALUES (?, ?, ?, ?)",
            (deployment_name, tick, now_iso(), note),
        )
        return cur.rowcount == 1

    def end_tick(
        self,
        deployment_name: str,
        tick: str,
        outcome: str,
        execution_id: str | None = None,
        note: str = "",
    ) -> None:
        """Record what a claimed tick became.

        :param outcome: ``started`` (with ``execution_id``), ``not started`` or ``lost``.
        :param note: why, appended to the tick's note.
        """
        self._run(
            "UPDATE deployment_ticks SET outcome = ?, execution_id = ?,"
            " note = CASE WHEN ? = '' THEN note WHEN note = '' THEN ? ELSE note || '; ' || ? END"
            " WHERE deployment_name = ? AND tick = ?",
            (outcome, execution_id, note, note, note, deployment_name, tick),
        )

    def last_tick(self, deployment_name: str) -> str | None:
        """The latest claimed tick of a deployment (ISO, UTC)."""
        row = self._one(
            "SELECT MAX(tick) AS tick FROM deployment_ticks WHERE deployment_name = ?",
            (deployment_name,),
        )
        return row["tick"] if row and row["tick"] else None

    def ticks(self, deployment_name: str) -> list[dict[str, Any]]:
        """The claimed ticks of a deployment, oldest first."""
        rows = self._all(
            "SELECT tick, claimed_at, outcome, execution_id, note FROM deployment_ticks"
            " WHERE deployment_name = ? ORDER BY tick",
            (deployment_name,),
        )
        return [dict(r) for r in rows]

    def claimed_ticks(self) -> list[dict[str, Any]]:
        """Ticks claimed whose outcome was never recorded (the platform stopped in between)."""
        rows = self._all(
            "SELECT deployment_name, tick FROM deployment_ticks"
            " WHERE outcome = 'claimed' ORDER BY tick"
        )
        return [dict(r) for r in rows]

    # ---- executions ----------------------------------------------------------------
    def create_execution(self, record: dict[str, Any]) -> None:
        """Record a new ``Pending`` execution.

        :param record: ``execution_id``, ``pipeline_name``, ``inputs``, ``outputs`` and optionally
            ``deployment_name`` and ``timeout_s``.
        """
        self._run(
            "INSERT INTO executions (id, pipeline_name, deployment_name, status, created_at,"
            " inputs, outputs, timeout_s) VALUES (?, ?, ?, 'Pending', ?, ?, ?, ?)",
            (
                record["execution_id"],
                record["pipeline_name"],
                record.get("deployment_name"),
                now_iso(),
                json.dumps(record["inputs"]),
                json.dumps(record["outputs"]),
                record.get("timeout_s"),
            ),
        )

    def execution_exists(self, execution_id: str) -> bool:
        return self._one("SELECT 1 FROM executions WHERE id = ?", (execution_id,)) is not None

    def get_execution(self, execution_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM executions WHERE id = ?", (execution_id,))
        return _execution(row) if row else None

    def get_status(self, execution_id: str) -> str | None:
        row = self._one("SELECT status FROM executions WHERE id = ?", (execution_id,))
        return row["status"] if row else None

    def get_statuses(self, execution_ids: list[str]) -> dict[str, str]:
        """id -> status of those of ``execution_ids`` that exist, in one query."""
        marks = ",".join("?" * len(execution_ids))  # placeholders only: the ids are bound
        rows = self._all(
            f"SELECT id, status FROM executions WHERE id IN ({marks})", tuple(execution_ids)
        )
        return {r["id"]: r["status"] for r in rows}

    def list_executions(self, pipeline_name: str) -> list[dict[str, Any]]:
        """The executions of a pipeline, oldest first."""
        rows = self._all(
            "SELECT * FROM executions WHERE pipeline_name = ? ORDER BY seq", (pipeline_name,)
        )
        return [_execution(r) for r in rows]

    def list_deployment_executions(self, deployment_name: str) -> list[dict[str, Any]]:
        """The executions of a deployment, oldest first."""
        rows = self._all(
            "SELECT * FROM executions WHERE deployment_name = ? ORDER BY seq", (deployment_name,)
        )
        return [_execution(r) for r in rows]

    def latest_execution(
        self, pipeline_name: str | None = None, deployment_name: str | None = None
    ) -> str | None:
        """The id of the newest execution of a deployment (if given), else of a pipeline."""
        column = "deployment_name" if deployment_name is not None else "pipeline_name"
        row = self._one(
            f"SELECT id FROM executions WHERE {column} = ? ORDER BY seq DESC LIMIT 1",
            (deployment_name if deployment_name is not None else pipeline_name,),
        )
        return row["id"] if row else None

    def mark_running(self, execution_id: str) -> bool:
        """Move a ``Pending`` execution to ``Running``; ``False`` if it no longer waits."""
        cur = self._run(
            "UPDATE executions SET status='Running', start_date=? WHERE id=? AND status='Pending'",
            (now_iso(), execution_id),
        )
        return cur.rowcount == 1

    def finish(
        self,
        execution_id: str,
        status: str,
        outputs: list[dict[str, Any]] | None = None,
        error: str | None = None,
    ) -> None:
        """Record the end of an execution (only once: a terminal status never changes)."""
        if outputs is None:
            self._run(
                "UPDATE executions SET status=?, end_date=?, error=? WHERE id=?"
                " AND status IN ('Pending', 'Running')",
                (status, now_iso(), error, execution_id),
            )
        else:
            self._run(
                "UPDATE executions SET status=?, end_date=?, error=?, outputs=? WHERE id=?"
                " AND status IN ('Pending', 'Running')",
                (status, now_iso(), error, json.dumps(outputs), execution_id),
            )

    def count_by_status(self) -> dict[str, int]:
        rows = self._all("SELECT status, COUNT(*) AS n FROM executions GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    def unfinished_ids(self) -> list[str]:
        """Ids of the ``Pending``/``Running`` executions, oldest first."""
        rows = self._all(
            "SELECT id FROM executions WHERE status IN ('Pending', 'Running') ORDER BY seq"
        )
        return [r["id"] for r in rows]

    def pending_ids(self) -> list[str]:
        """Ids of the ``Pending`` executions, oldest first."""
        rows = self._all("SELECT id FROM executions WHERE status = 'Pending' ORDER BY seq")
        return [r["id"] for r in rows]

    def running_ids(self) -> list[str]:
        """Ids of the ``Running`` executions, oldest first."""
        rows = self._all("SELECT id FROM executions WHERE status = 'Running' ORDER BY seq")
        return [r["id"] for r in rows]

    def fail_unfinished(
        self, event: str = "restarted", *, pending: bool = True, keep: Sequence[str] = ()
    ) -> int:
        """Mark every ``Running`` (and, with ``pending``, ``Pending``) execution ``Error``:
        their process is gone.

        :param event: what happened to the platform, for the message (``restarted``, ``stopped``).
        :param keep: executions left as they are (they still run elsewhere).
        """
        statuses = "('Pending', 'Running')" if pending else "('Running')"
        kept = f" AND id NOT IN ({', '.join('?' * len(keep))})" if keep else ""
        cur = self._run(
            "UPDATE executions SET status='Error', end_date=?,"
            " error=CASE status WHEN 'Running' THEN ? ELSE ? END"
            f" WHERE status IN {statuses}{kept}",
            (
                now_iso(),
                f"platform {event} while the execution was running",
                f"platform {event} before the execution started",
                *keep,
            ),
        )
        return cur.rowcount

    def delete_execution(self, execution_id: str) -> None:
        """Delete an execution, its logs and its folder."""
        self._run("DELETE FROM executions WHERE id = ?", (execution_id,))
        self._run("DELETE FROM logs WHERE execution_id = ?", (execution_id,))
        self._run("DELETE FROM metrics WHERE execution_id = ?", (execution_id,))
        shutil.rmtree(self.execution_dir(execution_id), ignore_errors=True)

    # ---- logs ----------------------------------------------------------------------
    def append_log(self, execution_id: str, message: str, ts: float | None = None) -> None:
        """Add a log line to an execution, its time cut to the millisecond (the precision of a
        line's ``timestamp`` and of the logs call's bounds, so that both agree).

        :param ts: epoch seconds, now when ``None``.
        """
        moment = time.time() if ts is None else ts
        self._run(
            "INSERT INTO logs (execution_id, ts, message) VALUES (?, ?, ?)",
            (execution_id, math.floor(moment * 1000) / 1000, message),
        )

    def logs(
        self,
        execution_id: str,
        from_ms: int | None = None,
        to_ms: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, str]]:
        """An execution's log lines, oldest first (by time, then as written).

        Bounds compare whole milliseconds, as a line's ``timestamp`` shows its time: a line of
        millisecond ``from_ms`` or ``to_ms`` is in.

        :param from_ms: only lines at or after this time (epoch milliseconds).
        :param to_ms: only lines at or before this time (epoch milliseconds).
        :param limit: at most this many lines (the first ones).
        """
        ms = "CAST(ROUND(ts * 1000) AS INTEGER)"
        sql = "SELECT ts, message FROM logs WHERE execution_id = ?"
        params: list[Any] = [execution_id]
        if from_ms is not None:
            sql += f" AND {ms} >= ?"
            params.append(from_ms)
        if to_ms is not None:
            sql += f" AND {ms} <= ?"
            params.append(to_ms)
        sql += f" ORDER BY {ms}, seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            {"timestamp": now_iso(r["ts"]), "message": r["message"]}
            for r in self._all(sql, tuple(params))
        ]

    # ---- metrics -------------------------------------------------------------------
    def put_metric(self, execution_id: str, name: str, value: float) -> None:
        """Set the single-value metric ``name`` of an execution (the last value is kept)."""
        self._run(
            "INSERT INTO metrics (execution_id, kind, name, value, created_at)"
            " VALUES (?, 'single', ?, ?, ?) ON CONFLICT(execution_id, kind, name)"
            " DO UPDATE SET value=excluded.value, created_at=excluded.created_at",
            (execution_id, name, json.dumps(value), now_iso()),
        )

    def extend_list_metric(self, execution_id: str, name: str, values: list[float]) -> None:
        """Append ``values`` to the list metric ``name`` of an execution."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM metrics WHERE execution_id = ? AND kind = 'list' AND name = ?",
                (execution_id, name),
            ).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO metrics (execution_id, kind, name, value, created_at)"
                    " VALUES (?, 'list', ?, ?, ?)",
                    (execution_id, name, json.dumps(values), now_iso()),
                )
            else:
                self._db.execute(
                    "UPDATE metrics SET value = ? WHERE execution_id = ? AND kind = 'list'"
                    " AND name = ?",
                    (json.dumps(json.loads(row["value"]) + values), execution_id, name),
                )
            self._db.commit()

    def metrics(
        self, kind: str, filters: dict[str, str], offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the metrics of ``kind`` (``single`` or ``list``) matching ``filters``
        (``name``, ``execution_id``, ``pipeline_name``, ``deployment_name``), oldest first, and
        how many match in all."""
        where = "m.kind = ?"
        params: list[Any] = [kind]
        columns = {
            "name": "m.name",
            "execution_id": "m.execution_id",
            "pipeline_name": "e.pipeline_name",
            "deployment_name": "e.deployment_name",
        }
        for key, value in filters.items():
            where += f" AND {columns[key]} = ?"
            params.append(value)
        joined = "FROM metrics m JOIN executions e ON e.id = m.execution_id WHERE " + where
        total = self._one(f"SELECT COUNT(*) AS n {joined}", tuple(params))
        rows = self._all(
            "SELECT m.name, m.value, m.created_at, m.execution_id, e.pipeline_name,"
            f" e.deployment_name {joined} ORDER BY m.seq LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        items = [
            {
                "name": r["name"],
                "value" if kind == "single" else "values": json.loads(r["value"]),
                "created_at": r["created_at"],
                "execution_id": r["execution_id"],
                "deployment_name": r["deployment_name"],
                "pipeline_name": r["pipeline_name"],
            }
            for r in rows
        ]
        return items, int(total["n"]) if total else 0

    # ---- environment variables ------------------------------------------------------
    def env_vars(self) -> dict[str, str]:
        return {
            r["name"]: r["value"]
            for r in self._all("SELECT * FROM environment_variables ORDER BY name")
        }

    def set_env_vars(self, values: dict[str, str]) -> None:
        """Create or overwrite environment variables."""
        for name, value in values.items():
            self._run(
                "INSERT INTO environment_variables (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                (name, value),
            )

    def delete_env_var(self, name: str) -> str | None:
        """Delete a variable; return its value, ``None`` if it was not set."""
        row = self._one("SELECT value FROM environment_variables WHERE name = ?", (name,))
        if row is None:
            return None
        self._run("DELETE FROM environment_variables WHERE name = ?", (name,))
        return str(row["value"])


def _pipeline(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "parameters": json.loads(row["parameters"]),
        "code_dir": row["code_dir"],
        "created_at": row["created_at"],
        "origin": row["origin"],
    }


def _execution(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "execution_id": row["id"],
        "pipeline_name": row["pipeline_name"],
        "deployment_name": row["deployment_name"],
        "status": row["status"],
        "created_at": row["created_at"],
        "start_date": row["start_date"],
        "end_date": row["end_date"],
        "inputs": json.loads(row["inputs"]),
        "outputs": json.loads(row["outputs"]),
        "error": row["error"],
        "timeout_s": row["timeout_s"],
    }
