"""Fault injection: runtime control route, counters, and each fault kind."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from platform_kit import EXAMPLES, Api

from craft_airflow.local.server import EmbeddedPlatform


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    p = EmbeddedPlatform(
        tmp_path_factory.mktemp("faulty"),
        sdk_token="fault-test-sdk-token",
        pipelines_dir=EXAMPLES,
        extra_args=["--long-poll-seconds", "0.5", "--fault-seed", "7"],
        env={"CRAFT_LOCAL_FAULT_SLOW_SECONDS": "0.3"},
    ).start()
    yield p
    p.stop()


@pytest.fixture()
def control(faulty: EmbeddedPlatform) -> Iterator[Any]:
    headers = {"Authorization": f"Bearer {faulty.sdk_token}"}

    def put(**settings: Any) -> dict[str, Any]:
        response = httpx.put(f"{faulty.url}/_local/faults", json=settings, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    put(reset_counters=True)
    yield put
    put(rate_503=0, rate_429=0, rate_reset=0, rate_slow=0, reset_mode="random")


def test_control_route_needs_auth_and_reads_options(faulty: EmbeddedPlatform) -> None:
    assert httpx.get(f"{faulty.url}/_local/faults").status_code == 401
    assert (
        httpx.get(
            f"{faulty.url}/_local/faults", headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    jwt = Api(faulty.url, faulty.sdk_token).jwt()
    body = httpx.get(
        f"{faulty.url}/_local/faults", headers={"Authorization": f"Bearer {jwt}"}
    ).json()
    assert body["settings"]["seed"] == 7
    assert body["settings"]["slow_seconds"] == 0.3  # from CRAFT_LOCAL_FAULT_SLOW_SECONDS
    bad = httpx.put(
        f"{faulty.url}/_local/faults",
        json={"rate_503": 2},
        headers={"Authorization": f"Bearer {faulty.sdk_token}"},
    )
    assert bad.status_code == 400


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


def test_status_route_counts_executions_and_is_never_faulted(
    faulty: EmbeddedPlatform, control: Any
) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    running = api.start("slow", {"seconds": 1})
    api.wait_for(running, {"Running"})
    control(rate_503=1.0, reset_counters=True)
    headers = {"Authorization": f"Bearer {faulty.sdk_token}"}
    assert httpx.get(f"{faulty.url}/_local/status").status_code == 401
    status = httpx.get(f"{faulty.url}/_local/status", headers=headers)
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["executions"]["Running"] >= 1
    assert running in body["unfinished"]
    assert control()["counters"] == {}  # not counted as an API request either
    control(rate_503=0)
    api.wait_for(running)
    assert (
        running
        not in httpx.get(f"{faulty.url}/_local/status", headers=headers).json()["unfinished"]
    )
