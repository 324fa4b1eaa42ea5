"""The six data types: value checks, messages naming the field, coercions of text."""

from __future__ import annotations

from typing import Any

import pytest

from craft_local.datatypes import DATA_TYPES, check, coerce, expected, matches, parse_bool
from craft_local.errors import PlatformError


@pytest.mark.parametrize(
    ("data_type", "fits", "does_not_fit"),
    [
        ("string", "x", 1),
        ("number", 1.5, True),  # a boolean is not a number
        ("boolean", False, 0),
        ("array", [1], {"a": 1}),
    ],
)
def test_matches(data_type: str, fits: Any, does_not_fit: Any) -> None:
    assert matches(data_type, fits)
    assert not matches(data_type, does_not_fit)


def test_json_takes_any_value() -> None:
    assert all(matches("json", v) for v in (None, 1, "s", [1], {"a": [None]}))


def test_check_names_the_field_and_what_was_expected() -> None:
    with pytest.raises(PlatformError) as raised:
        check("input", "count", "number", "3")
    error = raised.value
    assert error.status == 400 and error.name == "InvalidInput"
    assert error.message == (
        "Invalid value for input 'count': expected a number (number), got a string."
    )
    assert error.additional_data == {"input_name": "count", "expected": "number"}
    with pytest.raises(PlatformError, match="output 'n'") as out:
        check("output", "n", "boolean", None)
    assert out.value.name == "InvalidOutput"


@pytest.mark.parametrize(
    ("data_type", "text", "value"),
    [
        ("string", "007", "007"),
        ("number", "7", 7),
        ("number", "-2.5", -2.5),
        ("boolean", "Yes", True),
        ("boolean", "0", False),
        ("json", '{"a": 1}', {"a": 1}),
        ("json", "not json", "not json"),
        ("array", "[1, 2]", [1, 2]),
    ],
)
def test_coerce_text(data_type: str, text: str, value: Any) -> None:
    assert coerce(data_type, text) == value
    assert type(coerce(data_type, text)) is type(value)


def test_coerce_guesses_leaves_of_flattened_values_and_keeps_non_text() -> None:
    assert coerce("json", {"a": "1", "b": ["True", "x"]}) == {"a": 1, "b": [True, "x"]}
    assert coerce("number", 3) == 3


def test_bad_text_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        parse_bool("maybe")
    with pytest.raises(ValueError):
        coerce("number", "three")


def test_every_type_has_a_description() -> None:
    assert [expected(t) for t in DATA_TYPES] == [
        "a string",
        "a number",
        "a boolean (true or false)",
        "any JSON value",
        "a JSON array",
        "a file",
    ]
