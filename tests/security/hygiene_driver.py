"""Child process of the secret-hygiene test: every DAG of a DAGs folder through a real Airflow.

Run as ``python hygiene_driver.py <result.json>`` with the environment prepared by the test
(``AIRFLOW_HOME``, ``AIRFLOW__CORE__DAGS_FOLDER``, the metadata DB URL,
``AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE`` and the ``AIRFLOW_CONN_*`` connections). It migrates
a fresh metadata DB, runs each DAG once with ``dag.test()`` (tasks in this process, deferred
tasks' triggers inline, everything recorded in the DB like ``airflow dags test`` does), and
writes the run and task states plus every trigger row's decrypted kwargs to ``<result.json>``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def main(result_path: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: airflow_compat
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils import db
    from airflow.utils.session import create_session
    from airflow_compat import load_dag_bag
    from sqlalchemy import select

    db.initdb()
    bag = load_dag_bag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    result: dict[str, Any] = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}}
    runs: dict[str, Any] = {}
    # The event-driven examples wait for a scheduled execution or an asset event: not run here.
    for dag_id in sorted(d for d, dag in bag.dags.items() if "event-driven" not in dag.tags):
        print(f"=== hygiene driver: {dag_id}", flush=True)
        dag_run = bag.dags[dag_id].test(logical_date=None)
        with create_session() as session:
            tis = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run.run_id
                )
            ).all()
            tasks = {
                ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
                for ti in tis
            }
        runs[dag_id] = {"state": str(dag_run.state), "tasks": tasks}
    result["runs"] = runs
    # Trigger kwargs are stored encrypted: decrypt them (Airflow's Fernet) for the search.
    with create_session() as session:
        result["trigger_kwargs"] = [
            json.dumps(t.kwargs, default=str) for t in session.scalars(select(Trigger))
        ]
    with open(result_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
