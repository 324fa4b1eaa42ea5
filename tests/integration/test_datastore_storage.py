"""The data store as Airflow storage through a real Airflow (``dag.test()``): a DAG of the
tests' DAG folder uploads with ``ObjectStoragePath``, runs pipelines with a ``craft://`` file
input, ``craft://`` output storage and datastore mappings given as ``craft://`` URIs, and reads
the outputs back; XCom carries the paths' URIs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

DAGS = Path(__file__).parent / "dags"
sys.path.insert(0, str(DAGS))

from craft_datastore_storage import DOCUMENT_TEXT as TEXT  # noqa: E402

MODES = [pytest.param(False, id="worker-wait"), pytest.param(True, id="deferrable")]


@pytest.fixture(scope="module")
def storage_dag(airflow_db: Any, craft_connection: Any) -> Any:
    """The DAG, stored in the metadata DB (it lives outside the DAGs folder)."""
    from airflow_compat import load_dag_bag, sync_dags_to_db

    bag = load_dag_bag(DAGS)
    assert not bag.import_errors, bag.import_errors
    sync_dags_to_db(bag)
    return bag.dags["craft_datastore_storage"]


@pytest.fixture(autouse=True)
def fresh_stores() -> Any:
    from airflow.sdk.io.store import _STORE_CACHE

    _STORE_CACHE.clear()
    yield
    _STORE_CACHE.clear()


@pytest.mark.parametrize("deferrable", MODES)
def test_craft_paths_in_and_out_of_a_pipeline_run(
    storage_dag, deferrable, craft_platform, run_any_dag
):
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.filesystem import path_conn_id

    text = TEXT
    run = run_any_dag(storage_dag, deferrable=deferrable)
    assert run.state == "success", run.task_states
    datastore = Path(craft_platform.data_dir) / "datastore"

    # the upload's URI went through XCom as a string and names the object it wrote
    uri = run.xcom("upload")
    assert isinstance(uri, str) and uri.startswith("craft://craft_ai_default@/airflow-e2e/")
    path = ObjectStoragePath(uri)
    assert path_conn_id(path) == "craft_ai_default"
    assert (datastore / path.key).read_text() == text

    # file input read from craft://, file output written to craft:// output storage
    outputs = run.xcom("count_words")
    assert outputs["words"] == len(text.split())
    upper_uri = outputs["upper"]
    assert upper_uri.startswith(
        "craft://craft_ai_default@/airflow-outputs/craft_datastore_storage/"
    )
    execution_id = run.xcom("count_words", "execution_id")
    assert upper_uri.endswith(f"/count_words/{execution_id}/upper")
    assert (datastore / ObjectStoragePath(upper_uri).key).read_text() == text.upper()

    # datastore mappings given as craft:// URIs: read from and written to the data store
    mapped_id = run.xcom("count_mapped", "execution_id")
    assert run.xcom("count_mapped")["words"] == len(text.split())
    assert (datastore / "airflow-e2e" / "mapped" / f"{mapped_id}-upper.txt").read_text() == (
        text.upper()
    )

    # and a downstream task read both back through ObjectStoragePath
    back = run.xcom("read_back")
    assert back == {
        "upper": text.upper(),
        "mapped_upper": text.upper(),
        "mapped_size": len(text.upper().encode()),
    }
