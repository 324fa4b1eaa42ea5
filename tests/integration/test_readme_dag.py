"""The README's minimal DAG, run as written against the embedded platform (deferred, as it
asks): the README is outside the documentation site, so its one Python sample is tested here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_dag_runs(
    tmp_path: Path, airflow_db: Any, craft_connection: Any, run_any_dag: Any
) -> None:
    from airflow_compat import load_dag_bag, sync_dags_to_db

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1, "the README has one Python sample: the minimal DAG"
    (tmp_path / "craft_minimal.py").write_text(blocks[0])
    bag = load_dag_bag(tmp_path)
    assert not bag.import_errors, bag.import_errors
    sync_dags_to_db(bag)

    run = run_any_dag(bag.dags["craft_minimal"], deferrable=True)

    assert run.state == "success"
    outputs = run.xcom("run_all_types")
    assert outputs["text"] == f"HELLO FROM {run.run_id}".upper()
    assert outputs["number"] == 42
