"""Strict JSON: what is refused, without recursion, naming where."""

from __future__ import annotations

import pytest

from craft_local.errors import PlatformError
from craft_local.jsontext import MAX_JSON_DEPTH, check_storable, loads, problem


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_depth_limit_is_exact() -> None:
    assert problem(_nested(MAX_JSON_DEPTH)) is None
    found = problem(_nested(MAX_JSON_DEPTH + 1))
    assert found is not None and "nesting deeper" in found
    assert problem(_nested(100_000)) is not None  # no RecursionError


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("NaN", "InvalidJson"),
        ("[Infinity]", "InvalidJson"),
        ("1e400", "InvalidJson"),
        ('"\\udc00"', "UnstorableJson"),
        ("[" * 100_000, "JsonTooDeep"),
        ("[" * 500 + "]" * 500, "JsonTooDeep"),
    ],
)
def test_loads_refuses(text: str, name: str) -> None:
    with pytest.raises(PlatformError) as caught:
        loads(text, "'x'")
    assert caught.value.status == 400
    assert caught.value.name == name
    assert caught.value.message.startswith("'x'")


def test_check_storable_names_the_input() -> None:
    check_storable("input", "ok", {"a": [1, 2.5, "é"]})
    with pytest.raises(PlatformError) as caught:
        check_storable("input", "payload", [float("nan")])
    assert "'payload'" in caught.value.message
    assert caught.value.additional_data == {"input_name": "payload"}
