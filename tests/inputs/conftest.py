from __future__ import annotations

from typing import Any

import pytest

from craft_airflow.inputs.values import declared_io


@pytest.fixture
def declared() -> dict[str, dict[str, Any]]:
    """Declared inputs of a pipeline with one input of each data type."""
    return declared_io(
        {
            "parameters": {
                "inputs": [
                    {"name": "text", "data_type": "string", "is_required": True},
                    {"name": "n", "data_type": "number"},
                    {"name": "flag", "data_type": "boolean"},
                    {"name": "payload", "data_type": "json"},
                    {"name": "items", "data_type": "array"},
                    {"name": "doc", "data_type": "file"},
                ]
            }
        },
        "inputs",
    )
