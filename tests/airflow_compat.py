"""The test harness's few Airflow calls whose home moved between Airflow 3.1 and 3.3.

The provider itself imports version-sensitive names through
``airflow.providers.common.compat.sdk``; this module does the same for the harness: parsing a DAGs
folder, storing its DAGs in the metadata DB (``dag.test()`` runs only DAGs the DB knows), a
serialisation round trip, and whether ``ResumableJobMixin`` really re-attaches. Imported by name
(``from airflow_compat import …``): pytest puts ``tests/`` on ``sys.path``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import airflow
from packaging.version import Version

AIRFLOW_VERSION = Version(Version(airflow.__version__).base_version)

#: Airflow 3.3+: ``ResumableJobMixin`` and ``task_state_store`` exist, so a retry re-attaches to
#: the execution of an earlier try. Below 3.3 the compat stand-in starts a new execution per try.
RESUMABLE = AIRFLOW_VERSION.release[:2] >= (3, 3)


def load_dag_bag(folder: str | Path) -> Any:
    """A ``DagBag`` parsed from ``folder``."""
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.3
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def sync_dags_to_db(bag: Any, bundle_name: str = "dags-folder") -> None:
    """Store the bundles and every DAG of ``bag`` in the metadata DB, as the DAG processor does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    try:
        from airflow.dag_processing.dagbag import sync_bag_to_db  # Airflow 3.3
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, bundle_name, None)


def serialization_round_trip(dag: Any) -> Any:
    """``dag`` serialised as the DAG processor stores it, then deserialised with its operator
    links, as the API server loads it (a SerializedDAG)."""
    try:
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:  # Airflow 3.1
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer

    # Reading a SerializedDagModel without links (the scheduler's DagBag in dag.test()) leaves
    # this class-wide switch off for the rest of the process: turn it on for the round trip.
    load_links = Serializer._load_operator_extra_links
    Serializer._load_operator_extra_links = True
    try:
        return Serializer.deserialize_dag(Serializer.serialize_dag(dag))
    finally:
        Serializer._load_operator_extra_links = load_links


def serde() -> tuple[Any, Any]:
    """``(serialize, deserialize)`` of XCom values."""
    try:
        from airflow.sdk.serde import deserialize, serialize  # Airflow 3.3
    except ImportError:  # Airflow 3.1
        from airflow.serialization.serde import deserialize, serialize
    return serialize, deserialize


def task_listener_manager() -> Any:
    """The listener manager the task runner calls (``dag.test()`` included): the task SDK's on
    Airflow 3.3, ``airflow.listeners``' on 3.1. Register objects with ``hookimpl`` methods."""
    try:
        from airflow.sdk.listener import get_listener_manager
    except ImportError:  # Airflow 3.1
        from airflow.listeners.listener import get_listener_manager
    return get_listener_manager()


def xcoms_in_sqlite(db: Path) -> dict[tuple[str, str], Any]:
    """Every XCom in the SQLite metadata DB ``db`` (written by another process), by
    ``(task_id, key)``: one ``xcom`` table up to 3.3, per-attempt rows in ``xcom_v2`` from 3.4."""
    with sqlite3.connect(db) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        if "xcom_v2" in tables:
            query = (
                "SELECT ti.task_id, x.key, x.value FROM xcom_v2 x"
                " JOIN task_instance ti ON ti.id = x.task_instance_id"
            )
        else:
            query = "SELECT task_id, key, value FROM xcom"
        rows = conn.execute(query).fetchall()
    return {(task_id, key): json.loads(value) for task_id, key, value in rows}
