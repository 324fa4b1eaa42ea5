"""Mapping validation, input checks against declared types, file input resolution."""

from __future__ import annotations

import io
from contextlib import ExitStack
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from craft_airflow.io import (
    CraftInputError,
    InputSource,
    OutputDestination,
    declared_io,
    normalize_inputs_mapping,
    normalize_outputs_mapping,
    open_file_input,
    split_endpoint_inputs,
    split_inputs,
)

DECLARED = declared_io(
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


# -- mappings ------------------------------------------------------------------------------


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


def test_input_mapping_checked_against_declared_inputs():
    with pytest.raises(CraftInputError, match="no input 'nope'"):
        normalize_inputs_mapping(
            [{"pipeline_input_name": "nope", "is_null": True}], declared=DECLARED
        )
    with pytest.raises(CraftInputError, match="constant cannot fill the file input 'doc'"):
        normalize_inputs_mapping(
            [{"pipeline_input_name": "doc", "constant_value": "x"}], declared=DECLARED
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


# -- inputs --------------------------------------------------------------------------------


def test_split_inputs_of_every_type(tmp_path: Path):
    doc = tmp_path / "d.txt"
    doc.write_text("x")
    json_inputs, files = split_inputs(
        {
            "text": "t",
            "n": 1.5,
            "flag": False,
            "payload": {"a": [1]},
            "items": [1, "b"],
            "doc": str(doc),
        },
        DECLARED,
    )
    assert json_inputs == {
        "text": "t",
        "n": 1.5,
        "flag": False,
        "payload": {"a": [1]},
        "items": [1, "b"],
    }
    assert files == {"doc": str(doc)}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"text": "t", "n": "3"}, "input 'n' is declared 'number' but got str"),
        ({"text": "t", "n": True}, "input 'n' is declared 'number' but got bool"),
        ({"text": "t", "flag": 1}, "input 'flag' is declared 'boolean' but got int"),
        ({"text": "t", "items": "abc"}, "input 'items' is declared 'array' but got str"),
        ({"text": "t", "payload": {1, 2}}, r"input 'payload' \(json\): not JSON-serialisable"),
        ({"text": b"bytes"}, "input 'text' is declared 'string' but got a file"),
        ({"text": "t", "other": 1}, "the pipeline has no input 'other'"),
        ({"n": 1}, "required input\\(s\\) missing: 'text'"),
    ],
)
def test_split_inputs_errors(inputs, message):
    with pytest.raises(CraftInputError, match=message):
        split_inputs(inputs, DECLARED)


def test_a_mapped_input_counts_as_given_but_not_twice():
    assert split_inputs({}, DECLARED, mapped=["text"]) == ({}, {})
    with pytest.raises(CraftInputError, match="both in inputs and in inputs_mapping"):
        split_inputs({"text": "t"}, DECLARED, mapped=["text"])


def test_without_declarations_files_are_recognised_by_their_type(tmp_path: Path):
    json_inputs, files = split_inputs({"a": "/not/a/file/path", "b": b"x", "c": tmp_path}, None)
    assert json_inputs == {"a": "/not/a/file/path"}
    assert set(files) == {"b", "c"}


def test_split_endpoint_inputs():
    json_inputs, files = split_endpoint_inputs(
        {"n": 1, "doc": "file:///x", "blob": b"b"}, {"other": "/p"}, file_input_names=["doc"]
    )
    assert json_inputs == {"n": 1}
    assert files == {"other": "/p", "doc": "file:///x", "blob": b"b"}


# -- file inputs ---------------------------------------------------------------------------


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "input file.txt"
    path.write_bytes(b"some content")
    return path


@pytest.mark.parametrize(
    "as_value",
    [
        str,
        lambda p: p,
        lambda p: p.as_uri(),
        lambda p: f"file://{p}",
        lambda p: ObjectStoragePath(f"file://{p}"),
    ],
    ids=["str-path", "Path", "encoded-file-uri", "plain-file-uri", "ObjectStoragePath"],
)
def test_file_sources_are_opened_as_streams(document: Path, as_value):
    with ExitStack() as stack:
        file_input = open_file_input("doc", as_value(document), stack)
        assert file_input.filename == "input file.txt"
        assert not isinstance(file_input.stream, io.BytesIO)  # streamed from the file
        assert file_input.stream.read() == b"some content"
    assert file_input.stream.closed


def test_bytes_and_streams(document: Path):
    with ExitStack() as stack:
        from_bytes = open_file_input("doc", b"raw", stack)
        assert (from_bytes.filename, from_bytes.stream.read()) == ("doc", b"raw")
        with document.open("rb") as handle:
            from_stream = open_file_input("doc", handle, stack)
            assert from_stream.filename == "input file.txt"
            assert from_stream.stream is handle


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/no/such/file.txt", r"file input 'doc': no such file: '/no/such/file.txt'"),
        ("file:///no/such/file.txt", "file input 'doc': no such file"),
        (
            42,
            "expected a path, a storage URI, an ObjectStoragePath, bytes or a binary stream, got "
            "int",
        ),
    ],
)
def test_file_source_errors(value, message):
    with ExitStack() as stack, pytest.raises(CraftInputError, match=message):
        open_file_input("doc", value, stack)


def test_a_folder_is_not_a_file(tmp_path: Path):
    with ExitStack() as stack, pytest.raises(CraftInputError, match="is a directory"):
        open_file_input("doc", str(tmp_path), stack)
