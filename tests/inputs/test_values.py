"""craft_airflow.inputs.values: input values checked against declared inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from craft_airflow.errors import CraftInputError
from craft_airflow.inputs.values import declared_io, split_endpoint_inputs, split_inputs


def test_split_inputs_of_every_type(tmp_path: Path, declared):
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
        declared,
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
def test_split_inputs_errors(inputs, message, declared):
    with pytest.raises(CraftInputError, match=message):
        split_inputs(inputs, declared)


def test_a_mapped_input_counts_as_given_but_not_twice(declared):
    assert split_inputs({}, declared, mapped=["text"]) == ({}, {})
    with pytest.raises(CraftInputError, match="both in inputs and in inputs_mapping"):
        split_inputs({"text": "t"}, declared, mapped=["text"])


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


REQUIREMENTS = {
    "undeclared": {},
    "optional": {"is_required": False},
    "required": {"is_required": True},
    "required_with_default": {"is_required": True, "default_value": 2},
}


def test_the_pre_check_and_the_platform_agree_on_is_required(craft_platform):
    """Each way of declaring (or not) ``is_required``, left out of a run: the provider's
    pre-check refuses it exactly when the platform's API does."""
    from platform_kit import Api, create_pipeline

    api = Api(craft_platform.url, craft_platform.sdk_token)
    inputs = [{"name": name, "data_type": "number", **spec} for name, spec in REQUIREMENTS.items()]
    code = "def main(**kwargs):\n    return {}\n"
    assert create_pipeline(api, "requirements", code, inputs=inputs).status_code == 200
    declared = declared_io(api.get("/api/v1/pipelines/requirements").json(), "inputs")
    given = dict.fromkeys(REQUIREMENTS, 1)
    refused = {}
    for name in REQUIREMENTS:
        rest = {k: v for k, v in given.items() if k != name}
        platform_refuses = api.run("requirements", rest).status_code == 400
        try:
            split_inputs(rest, declared)
            provider_refuses = False
        except CraftInputError as err:
            assert f"'{name}' (number)" in str(err)
            provider_refuses = True
        assert provider_refuses == platform_refuses, name
        refused[name] = platform_refuses
    assert refused == {
        "undeclared": False,
        "optional": False,
        "required": True,
        "required_with_default": False,
    }
