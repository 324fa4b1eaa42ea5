"""An execution's metrics (protocol/metrics.py), driven by hand against a scripted platform
(§9): both kinds read by execution in pages, an unknown execution or metric named."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from protocol_kit import ENV, answer, context, drive, make_jwt

from craft_airflow.errors import CraftAPIError, CraftError
from craft_airflow.protocol.builders import build_get_metrics
from craft_airflow.protocol.metrics import execution_metrics_steps, select_metrics


def platform(single, lists, page_size=None, execution_status=200):
    """A responder holding ``single`` ``{name: value}`` and ``lists`` ``{name: [values]}`` of
    execution ``e``; records each URL it got."""
    urls = []

    def respond(step):
        request = step.request
        urls.append(request.url + "?" + "&".join(f"{k}={v}" for k, v in request.params))
        if "/metrics/" not in request.url:
            return answer(execution_status, b'{"message": "Execution not found"}')
        query = dict(request.params)
        kind = request.url.rsplit("/", 1)[1]
        field, items = ("value", single) if kind == "single-value" else ("values", lists)
        metrics = [{"name": n, field: v, "execution_id": "e"} for n, v in items.items()]
        size = page_size or int(query["items_per_page"])
        page = int(query["page"])
        chosen = metrics[(page - 1) * size : page * size]
        return answer(200, json.dumps({"metrics": chosen, "total_count": len(metrics)}).encode())

    return respond, urls


def read(single, lists, **kwargs):
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    page_size = kwargs.pop("page_size", None)
    status = kwargs.pop("execution_status", 200)
    respond, urls = platform(single, lists, page_size, status)
    result, _ = drive(execution_metrics_steps(ctx, "e", **kwargs), respond, clock)
    return result, urls


def test_the_request_is_the_sdks_get_metrics_filtered_by_execution():
    request = build_get_metrics(
        context()[0].config, "single-value", "e/1", page=2, items_per_page=10
    )
    assert (request.method, request.url) == ("GET", f"{ENV}/api/v1/metrics/single-value")
    assert request.params == (
        ("filters[execution_id]", "e/1"),
        ("items_per_page", "10"),
        ("page", "2"),
    )


def test_both_kinds_are_read_into_one_mapping():
    metrics, urls = read({"accuracy": 0.9}, {"loss": [1.0, 0.5]})
    assert metrics == {"accuracy": 0.9, "loss": [1.0, 0.5]}
    assert [urlsplit(u).path for u in urls] == [
        "/api/v1/metrics/single-value",
        "/api/v1/metrics/list-values",
    ]


def test_pages_are_followed_until_the_total_count():
    single = {f"m{i}": i for i in range(5)}
    metrics, urls = read(single, {}, page_size=2)
    assert metrics == single
    pages = [parse_qs(urlsplit(u).query)["page"][0] for u in urls if "single" in u]
    assert pages == ["1", "2", "3"]


def test_an_unknown_execution_is_an_error_naming_it_when_checked():
    with pytest.raises(CraftError, match=r"Execution 'e' does not exist on https://env"):
        read({}, {}, check_execution=True, execution_status=404)
    # Unchecked (the ending: the execution is known), an empty read is no metric.
    assert read({}, {}, execution_status=404)[0] == {}


def test_another_failure_of_the_check_is_not_hidden():
    with pytest.raises(CraftAPIError):
        read({}, {}, check_execution=True, execution_status=403)


def test_selecting_names_an_unknown_metric_and_the_recorded_ones():
    metrics = {"accuracy": 0.9, "loss": [1.0]}
    assert select_metrics(metrics, None, "e") == metrics
    assert select_metrics(metrics, "accuracy", "e") == {"accuracy": 0.9}
    assert select_metrics(metrics, ["loss"], "e") == {"loss": [1.0]}
    with pytest.raises(CraftError) as raised:
        select_metrics(metrics, ["accuracy", "f1"], "e")
    assert str(raised.value) == (
        "Execution 'e' recorded no metric named 'f1': expected one of the metrics it recorded"
        " ('accuracy', 'loss')."
    )
    with pytest.raises(CraftError, match=r"\(none\)"):
        select_metrics({}, ["accuracy"], "e")
