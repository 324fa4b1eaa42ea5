"""Execution ids and the public views of executions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from craft_local.executions import execution_view, list_item, new_execution_id
from craft_local.store import Store


def test_ids_are_the_pipeline_and_six_random_characters() -> None:
    ids = {new_execution_id("word-count") for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"word-count-[a-z0-9]{6}", i) for i in ids)


@pytest.fixture()
def execution(tmp_path: Path) -> Iterator[dict[str, Any]]:
    store = Store(tmp_path)
    store.create_execution(
        {
            "execution_id": "p-abc123",
            "pipeline_name": "p",
            "inputs": [
                {
                    "pipeline_input_name": "text",
                    "data_type": "string",
                    "mapping_type": "run",
                    "value": "hi",
                },
                {
                    "pipeline_input_name": "doc",
                    "data_type": "file",
                    "mapping_type": "run",
                    "_file": "inputs/doc/d.txt",
                },
            ],
            "outputs": [],
        }
    )
    record = store.get_execution("p-abc123")
    assert record is not None
    yield record
    store.close()


def test_views_hide_internal_fields_and_values_on_request(execution: dict[str, Any]) -> None:
    full = execution_view(execution)
    assert full["execution_id"] == "p-abc123" and full["status"] == "Pending"
    text, doc = full["inputs"]
    assert text["value"] == "hi"
    assert "value" not in doc and "_file" not in doc  # files are downloaded, never inlined
    bare = execution_view(execution, include_io_values=False)
    assert all("value" not in item for item in bare["inputs"])
    row = list_item(execution)
    assert row["execution_id"] == "p-abc123" and row["deployment_name"] is None
