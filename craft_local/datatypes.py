"""The six input/output data types (§3.1): value checks and text coercions."""

from __future__ import annotations

import math
import re
from typing import Any

from craft_local import jsontext
from craft_local.errors import PlatformError, bad_request

DATA_TYPES = ("string", "number", "boolean", "json", "array", "file")

_EXPECTED = {
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "json": "any JSON value",
    "array": "a JSON array",
    "file": "a file",
}
_INT = re.compile(r"^[+-]?\d+$")


def matches(data_type: str, value: Any) -> bool:
    """Whether a (non-file) JSON value fits ``data_type``; bool is not a number."""
    if data_type == "string":
        return isinstance(value, str)
    if data_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if data_type == "boolean":
        return isinstance(value, bool)
    if data_type == "array":
        return isinstance(value, list)
    return data_type == "json"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check(kind: str, name: str, data_type: str, value: Any) -> None:
    """Raise a 400 naming the input/output when ``value`` does not fit ``data_type``.

    :param kind: ``input``, ``endpoint input`` or ``output`` (for the message).
    """
    if not matches(data_type, value):
        raise bad_request(
            f"Invalid value for {kind} '{name}': expected {_EXPECTED[data_type]}"
            f" ({data_type}), got {_json_type(value)}.",
            name="InvalidOutput" if kind == "output" else "InvalidInput",
            input_name=name,
            expected=data_type,
        )


def expected(data_type: str) -> str:
    """What a value of ``data_type`` looks like, for messages (``a JSON array``)."""
    return _EXPECTED[data_type]


def parse_bool(text: str) -> bool:
    """``true/false``, ``1/0`` or ``yes/no`` (any case); ``ValueError`` otherwise."""
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_number(text: str) -> int | float:
    """An int for integer text, else a float; ``ValueError`` when neither."""
    text = text.strip()
    value = int(text) if _INT.match(text) else float(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite number: {text[:40]!r}")
    return value


def _guess_scalar(text: str) -> Any:
    """Best effort for leaves of flattened JSON values (their type was lost in transit)."""
    try:
        return jsontext.loads(text)
    except PlatformError as exc:
        if exc.name != jsontext.NOT_JSON:
            raise
        if text in ("True", "False"):
            return text == "True"
        return text


def coerce(data_type: str, value: Any) -> Any:
    """Turn a value that travelled as text (multipart field, env var) into ``data_type``.

    Non-text values are returned unchanged; nested dicts/lists (flattened multipart) have
    their leaves guessed.
    """
    if isinstance(value, dict):
        return {k: coerce("json", v) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce("json", v) for v in value]
    if not isinstance(value, str):
        return value
    if data_type == "string":
        return value
    if data_type == "number":
        return parse_number(value)
    if data_type == "boolean":
        return parse_bool(value)
    return _guess_scalar(value)
