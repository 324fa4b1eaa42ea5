"""Execution metrics (§9.1): what pipeline code may record, and the filters of a read.

A single-value metric keeps its last value per execution; a list metric grows by each batch
(at most :data:`MAX_LIST_BATCH` values per call, as the SDK sends them). Values are finite
numbers. Reads filter by metric name and by one of execution, pipeline or deployment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from craft_local.errors import bad_request

#: The values one list-metric call may carry (the SDK sends batches of this size).
MAX_LIST_BATCH = 10_000
#: The largest page a read may ask for.
MAX_ITEMS_PER_PAGE = 5_000
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
#: ``filters[<key>]`` query parameters a read understands; of the last three, one at most.
FILTER_KEYS = ("name", "execution_id", "pipeline_name", "deployment_name")
_SCOPES = ("execution_id", "pipeline_name", "deployment_name")


def check_name(name: str) -> str:
    """A metric name: 1 to 100 letters, digits, ``_``, ``.`` or ``-``."""
    if not _NAME.match(name):
        raise bad_request(
            f"Metric name {name[:120]!r} is invalid: expected 1 to 100 letters, digits,"
            " '_', '.' or '-'.",
            name="InvalidMetric",
        )
    return name


def check_value(value: Any, what: str) -> float:
    """A finite number (a boolean is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(
            f"{what} must be a number, got {type(value).__name__}.", name="InvalidMetric"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise bad_request(f"{what} must be a finite number.", name="InvalidMetric")
    return value


def check_values(values: Any) -> list[float]:
    """The values of one list-metric call: a list of at most :data:`MAX_LIST_BATCH` numbers."""
    if not isinstance(values, list):
        raise bad_request(
            f"'values' must be a list of numbers, got {type(values).__name__}.",
            name="InvalidMetric",
        )
    if len(values) > MAX_LIST_BATCH:
        raise bad_request(
            f"'values' holds {len(values)} numbers; at most {MAX_LIST_BATCH} per call.",
            name="InvalidMetric",
        )
    return [check_value(v, f"'values[{i}]'") for i, v in enumerate(values)]


def check_own_execution(body_execution_id: Any, execution_id: str) -> None:
    """The body's ``execution_id`` is the execution whose credential made the call."""
    if body_execution_id != execution_id:
        raise bad_request(
            f"'execution_id' must be the running execution's id ({execution_id!r}), got"
            f" {body_execution_id!r}: an execution records only its own metrics.",
            name="InvalidMetric",
        )


def read_filters(query: Mapping[str, str]) -> dict[str, str]:
    """The ``filters[...]`` of a read's query, at most one of execution, pipeline, deployment."""
    filters = {key: query[f"filters[{key}]"] for key in FILTER_KEYS if f"filters[{key}]" in query}
    scopes = [key for key in _SCOPES if key in filters]
    if len(scopes) > 1:
        raise bad_request(
            f"Only one of filters[execution_id], filters[pipeline_name] and"
            f" filters[deployment_name] may be set, got {', '.join(scopes)}.",
            name="InvalidFilter",
        )
    return filters


def read_page(query: Mapping[str, str]) -> tuple[int, int]:
    """``(offset, limit)`` from ``page`` (from 1) and ``items_per_page`` (1 to 5,000)."""
    numbers = {}
    for key, default, top in (("page", 1, None), ("items_per_page", 100, MAX_ITEMS_PER_PAGE)):
        raw = query.get(key, str(default))
        if not raw.isdigit() or int(raw) < 1 or (top is not None and int(raw) > top):
            bound = f"1 to {top}" if top else "at least 1"
            raise bad_request(f"'{key}' must be an integer, {bound}; got {raw!r}.")
        numbers[key] = int(raw)
    limit = numbers["items_per_page"]
    return (numbers["page"] - 1) * limit, limit
