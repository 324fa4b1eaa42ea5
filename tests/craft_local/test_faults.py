"""Fault injection: each fault kind, counters, seeded rates."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from conditions import wait_until
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


def gates_api(platform: EmbeddedPlatform) -> httpx.Client:
    return httpx.Client(
        base_url=f"{platform.url}/_local",
        headers={"Authorization": f"Bearer {platform.sdk_token}"},
        timeout=30,
    )


def held(client: httpx.Client, gate_id: int) -> bool:
    return any(g["id"] == gate_id and g["held"] for g in client.get("/gates").json())


def test_a_gate_holds_a_creation_after_handling_it_until_released(
    faulty: EmbeddedPlatform, control: Any
) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    api.jwt()
    before = len(api.get("/api/v1/pipelines/slow/executions").json())
    with gates_api(faulty) as gates:
        gate = gates.post(
            "/gates", json={"method": "post", "path": "/api/v1/pipelines/slow/run", "when": "after"}
        ).json()
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(
                api.post,
                "/api/v1/pipelines/slow/run",
                data={"json_inputs": json.dumps({"seconds": 0.1})},
            )
            wait_until(lambda: held(gates, gate["id"]), timeout=30, what="the run held")
            # Created while its answer is held: the client does not know it yet.
            assert len(api.get("/api/v1/pipelines/slow/executions").json()) == before + 1
            assert not answer.done()
            released = gates.post(f"/gates/{gate['id']}/release", json={}).json()
            assert released["released"] == "proceed" and released["matched"] == 1
            assert answer.result().json()["execution_id"]
        # The gate took one request: the next one passes.
        assert api.post(
            "/api/v1/pipelines/slow/run", data={"json_inputs": json.dumps({"seconds": 0.1})}
        ).status_code in (200, 201)
        assert gates.delete("/gates").json() == {"gates": []}


def test_a_gate_held_before_handling_and_dropped_creates_nothing(
    faulty: EmbeddedPlatform, control: Any
) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    api.jwt()
    before = len(api.get("/api/v1/pipelines/slow/executions").json())
    with gates_api(faulty) as gates:
        gate = gates.post("/gates", json={"method": "POST", "path": "/api/v1/pipelines/"}).json()
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(
                api.post,
                "/api/v1/pipelines/slow/run",
                data={"json_inputs": json.dumps({"seconds": 0.1})},
            )
            wait_until(lambda: held(gates, gate["id"]), timeout=30, what="the run held")
            gates.post(f"/gates/{gate['id']}/release", json={"then": "drop"})
            with pytest.raises(httpx.TransportError):
                answer.result()
        assert len(api.get("/api/v1/pipelines/slow/executions").json()) == before
        dropping = gates.post(
            "/gates",
            json={"method": "GET", "path": "/api/v1/users/me", "action": "drop", "count": 2},
        ).json()
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                api.get("/api/v1/users/me")
        assert api.get("/api/v1/users/me").status_code == 200
        assert [g["matched"] for g in gates.get("/gates").json() if g["id"] == dropping["id"]] == [
            2
        ]
        gates.delete("/gates")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"path": "/api/v1/x"}, "method"),
        ({"method": "GET", "path": "api"}, "path"),
        ({"method": "GET", "path": "/a", "when": "during"}, "when"),
        ({"method": "GET", "path": "/a", "action": "slow"}, "action"),
        ({"method": "GET", "path": "/a", "count": 0}, "count"),
        ({"method": "GET", "path": "/a", "extra": 1}, "extra"),
    ],
)
def test_bad_gates_are_refused_naming_the_field(
    faulty: EmbeddedPlatform, body: dict[str, Any], field: str
) -> None:
    with gates_api(faulty) as gates:
        response = gates.post("/gates", json=body)
        assert response.status_code == 400 and field in response.text
        assert gates.post("/gates/999/release", json={}).status_code == 404
