"""craft_airflow.inputs.mappings: the mapping schema, checked against declared inputs."""

from __future__ import annotations

import pytest

from craft_airflow.errors import CraftInputError
from craft_airflow.inputs.mappings import (
    InputSource,
    OutputDestination,
    normalize_inputs_mapping,
    normalize_outputs_mapping,
)


def test_dataclass_and_dict_give_the_same_wire_form():
    as_object = normalize_inputs_mapping([InputSource(pipeline_input_name="n", constant_value=3)])
    as_dict = normalize_inputs_mapping([{"pipeline_input_name": "n", "constant_value": 3}])
    assert as_object == as_dict == [{"pipeline_input_name": "n", "constant_value": 3}]


def test_none_values_and_false_is_null_are_dropped():
    mapping = [
        {"pipeline_input_name": "n", "constant_value": 0, "is_null": False, "datastore_path": None}
    ]
    assert normalize_inputs_mapping(mapping) == [{"pipeline_input_name": "n", "constant_value": 0}]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            [{"pipeline_input_name": "n", "constant": 3}],
            r"inputs_mapping\[0\]: unknown field\(s\) 'constant'",
        ),
        ([{"constant_value": 3}], "'pipeline_input_name' is required"),
        ([{"pipeline_input_name": "n"}], r"\('n'\): set exactly one of .* got none"),
        (
            [{"pipeline_input_name": "n", "constant_value": 1, "datastore_path": "a/b"}],
            "got constant_value, datastore_path",
        ),
        (
            [{"pipeline_input_name": "n", "endpoint_input_name": "m"}],
            "not accepted for a pipeline run",
        ),
        (
            [{"pipeline_input_name": "n", "constant_value": 1, "is_required": True}],
            "'is_required' is only valid with 'endpoint_input_name'",
        ),
        ([{"pipeline_input_name": "n", "is_null": True}] * 2, "mapped more than once"),
        (
            [{"pipeline_input_name": "n", "environment_variable_name": ""}],
            "must be a non-empty string",
        ),
        (["n"], "expected a dict or InputSource, got str"),
        ({"pipeline_input_name": "n"}, "expected a list"),
    ],
)
def test_input_mapping_errors_name_the_field(mapping, message):
    with pytest.raises(CraftInputError, match=message):
        normalize_inputs_mapping(mapping)


def test_endpoint_mappings_accept_endpoint_fields():
    mapping = [InputSource(pipeline_input_name="n", endpoint_input_name="count", is_required=True)]
    assert normalize_inputs_mapping(mapping, target="endpoint") == [
        {"pipeline_input_name": "n", "endpoint_input_name": "count", "is_required": True}
    ]


def test_input_mapping_checked_against_declared_inputs(declared):
    with pytest.raises(CraftInputError, match="no input 'nope'"):
        normalize_inputs_mapping(
            [{"pipeline_input_name": "nope", "is_null": True}], declared=declared
        )
    with pytest.raises(CraftInputError, match="constant cannot fill the file input 'doc'"):
        normalize_inputs_mapping(
            [{"pipeline_input_name": "doc", "constant_value": "x"}], declared=declared
        )


def test_output_mappings():
    assert normalize_outputs_mapping(
        [OutputDestination(pipeline_output_name="r", datastore_path="out/{execution_id}.txt")]
    ) == [{"pipeline_output_name": "r", "datastore_path": "out/{execution_id}.txt"}]
    with pytest.raises(
        CraftInputError, match="'endpoint_output_name' is not accepted for a pipeline run"
    ):
        normalize_outputs_mapping([{"pipeline_output_name": "r", "endpoint_output_name": "x"}])
    with pytest.raises(CraftInputError, match="unknown field"):
        normalize_outputs_mapping([{"pipeline_output_name": "r", "path": "x"}])
    with pytest.raises(CraftInputError, match="no output 'r'"):
        normalize_outputs_mapping([{"pipeline_output_name": "r", "is_null": True}], declared={})
