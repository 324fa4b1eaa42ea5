"""craft_local/metrics.py: the checks of recorded metrics and of a read's filters and page."""

from __future__ import annotations

import math

import pytest

from craft_local.errors import PlatformError
from craft_local.metrics import (
    MAX_LIST_BATCH,
    check_name,
    check_value,
    check_values,
    read_filters,
    read_page,
)


def test_names_values_and_lists() -> None:
    assert check_name("val.accuracy-top_5") == "val.accuracy-top_5"
    assert check_value(3, "'value'") == 3 and check_value(0.5, "'value'") == 0.5
    assert check_values([1, 2.5]) == [1, 2.5]
    assert len(check_values([0] * MAX_LIST_BATCH)) == MAX_LIST_BATCH
    for bad in ("", "a" * 101, "a b", "é"):
        with pytest.raises(PlatformError, match="Metric name"):
            check_name(bad)
    for bad in (math.nan, math.inf, "1", None, False):
        with pytest.raises(PlatformError, match="'value' must be a"):
            check_value(bad, "'value'")


def test_filters_and_pages() -> None:
    query = {"filters[name]": "acc", "filters[deployment_name]": "d", "other": "x"}
    assert read_filters(query) == {"name": "acc", "deployment_name": "d"}
    assert read_page({}) == (0, 100)
    assert read_page({"page": "3", "items_per_page": "5000"}) == (10_000, 5000)
    with pytest.raises(PlatformError, match="Only one of"):
        read_filters({"filters[deployment_name]": "d", "filters[execution_id]": "e"})
    with pytest.raises(PlatformError, match="'items_per_page' must be an integer, 1 to 5000"):
        read_page({"items_per_page": "-1"})
