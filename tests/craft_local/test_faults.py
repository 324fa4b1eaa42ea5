"""Fault injection: each fault kind, counters, seeded rates."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from platform_kit import (
    Api,
)

from craft_local.server import EmbeddedPlatform


def test_503_and_429(faulty: EmbeddedPlatform, control: Any) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    api.jwt()
    control(rate_503=1)
    response = api.get("/api/v1/pipelines")
    assert response.status_code == 503
    assert set(response.json()) == {"message", "name", "request_id", "additional_data"}
    assert httpx.get(f"{faulty.url}/api/v1/environment-info").status_code == 200
    control(rate_503=0, rate_429=1, retry_after=2)
    limited = api.get("/api/v1/pipelines")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    counters = control()["counters"]
    assert counters["503"] == 1 and counters["429"] == 1


def test_reset_after_processing_still_creates_the_execution(
    faulty: EmbeddedPlatform, control: Any
) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    api.jwt()
    before = len(api.get("/api/v1/pipelines/slow/executions").json())
    control(rate_reset=1, reset_mode="after")
    with pytest.raises(httpx.TransportError):
        api.post("/api/v1/pipelines/slow/run", data={"json_inputs": json.dumps({"seconds": 0.1})})
    control(rate_reset=1, reset_mode="before")
    with pytest.raises(httpx.TransportError):
        api.post("/api/v1/pipelines/slow/run", data={"json_inputs": json.dumps({"seconds": 0.1})})
    counters = control(rate_reset=0)["counters"]
    assert counters["reset_after"] == 1 and counters["reset_before"] == 1
    after = api.get("/api/v1/pipelines/slow/executions").json()
    assert len(after) == before + 1  # only the request dropped after handling was processed


def test_match_limits_the_faults_and_their_counting_to_the_requests_it_selects(
    faulty: EmbeddedPlatform, control: Any
) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    api.jwt()
    settings = control(rate_503=1, match="^GET /api/v1/pipelines$", reset_counters=True)["settings"]
    assert settings["match"] == "^GET /api/v1/pipelines$"
    try:
        assert api.get("/api/v1/pipelines/slow").status_code == 200
        assert api.get("/api/v1/users/me").status_code == 200
        assert api.get("/api/v1/pipelines").status_code == 503
        assert control()["counters"] == {"requests": 1, "503": 1}
    finally:
        control(rate_503=0, match=None)
    assert api.get("/api/v1/pipelines").status_code == 200


@pytest.mark.parametrize(
    ("value", "error"),
    [("(unclosed", "not a regular expression"), (3, "regular expression (string) or null")],
)
def test_a_bad_match_is_refused(faulty: EmbeddedPlatform, value: Any, error: str) -> None:
    headers = {"Authorization": f"Bearer {faulty.sdk_token}"}
    response = httpx.put(f"{faulty.url}/_local/faults", json={"match": value}, headers=headers)
    assert response.status_code == 400
    assert error in response.json()["message"]


def test_slow_requests(faulty: EmbeddedPlatform, control: Any) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    api.jwt()
    control(rate_slow=1)
    started = time.monotonic()
    assert api.get("/api/v1/users/me").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert control()["counters"]["slow"] == 1


def test_rates_are_probabilities_with_a_seed(faulty: EmbeddedPlatform, control: Any) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    api.jwt()
    control(rate_503=0.5, seed=3)
    first = [api.get("/api/v1/users/me").status_code for _ in range(20)]
    control(seed=3)
    second = [api.get("/api/v1/users/me").status_code for _ in range(20)]
    assert first == second
    assert 0 < first.count(503) < 20
