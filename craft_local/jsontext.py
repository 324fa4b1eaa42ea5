"""Strict JSON: what the platform accepts is what it can store and serve back.

Refused, with a 400 naming where: ``NaN``, ``Infinity`` and numbers too large for a float,
nesting deeper than :data:`MAX_JSON_DEPTH`, and strings that are not valid Unicode (lone
surrogates, which no UTF-8 answer can carry). Every JSON text of a request is decoded here.
"""

from __future__ import annotations

import json
import math
from typing import Any

from craft_local.errors import PlatformError, bad_request

#: Deepest accepted nesting of arrays and objects (a scalar is depth 0, ``[1]`` depth 1).
MAX_JSON_DEPTH = 64
#: The error name of text that is not JSON at all (``NaN`` included); others name the problem.
NOT_JSON = "InvalidJson"
TOO_DEEP = "JsonTooDeep"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} does not fit a 64-bit float")
    return value


def _where(path: list[Any]) -> str:
    shown = "".join(f"[{p!r}]" for p in path[:4]) + ("[…]" if len(path) > 4 else "")
    return shown or "the top level"


def problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """What makes ``value`` unstorable, or ``None``: walked without recursion.

    :param value: a decoded JSON value (dicts, lists, str, int, float, bool, None).
    :param max_depth: deepest accepted nesting.
    """
    stack: list[tuple[Any, int, list[Any]]] = [(value, 0, [])]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list):
            if depth >= max_depth:
                return f"nesting deeper than {max_depth} levels at {_where(path)}"
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str) and not _encodable(key):
                    return f"a key that is not valid Unicode at {_where(path)}"
                stack.append((child, depth + 1, [*path, key]))
        elif isinstance(node, float) and not math.isfinite(node):
            return f"{node} (not a JSON number) at {_where(path)}"
        elif isinstance(node, str) and not _encodable(node):
            return f"a string that is not valid Unicode at {_where(path)}"
        elif not isinstance(node, str | int | float | bool | type(None)):
            return f"a {type(node).__name__} (not a JSON value) at {_where(path)}"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads(text: str | bytes, what: str = "The request body") -> Any:
    """Decode JSON text strictly, else a 400 starting with ``what``.

    :param text: the JSON text (bytes are read as UTF-8).
    :param what: names the text in the error, e.g. ``"'json_inputs'"``.
    """
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise bad_request(
            f"{what} nests deeper than {MAX_JSON_DEPTH} levels.", name=TOO_DEEP
        ) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise bad_request(f"{what} is not valid JSON: {_short(exc)}.", name=NOT_JSON) from None
    found = problem(value)
    if found is not None:
        name = TOO_DEEP if found.startswith("nesting") else "UnstorableJson"
        raise bad_request(f"{what} is refused: {found}.", name=name)
    return value


def _short(exc: ValueError) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def check_storable(kind: str, name: str, value: Any) -> None:
    """A 400 naming the input (or output) ``name`` when ``value`` can not be stored and
    served back exactly.

    :param kind: ``input`` or ``output``, for the message.
    """
    found = problem(value)
    if found is None:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            found = str(exc) or type(exc).__name__
    if found is not None:
        raise PlatformError(
            400,
            "InvalidInput" if kind == "input" else "InvalidOutput",
            f"The value of {kind} '{name}' can not be stored: {found}.",
            {f"{kind}_name": name},
        )
