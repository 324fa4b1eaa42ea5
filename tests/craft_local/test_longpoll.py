"""Held requests: the 307 to the same URL, and other requests served meanwhile."""

from __future__ import annotations

import threading
import time

import httpx
from platform_kit import (
    Api,
)

from craft_local.server import EmbeddedPlatform


def test_long_poll_answers_307_to_itself_then_200(api: Api) -> None:
    execution_id = api.start("slow", {"seconds": 1.5})
    path = f"/api/v1/executions/{execution_id}/outputs?wait_for_completion=true"
    started = time.monotonic()
    response = api.get(path)
    assert response.status_code == 307
    assert time.monotonic() - started >= 0.4  # held for --long-poll-seconds 0.5
    assert response.headers["location"] == path
    assert response.content == b""
    outputs = api.outputs(execution_id)
    assert outputs["outputs"][0]["value"] == 1.5


def test_long_poll_does_not_block_other_requests(single: EmbeddedPlatform) -> None:
    api = Api(single.url, single.sdk_token)
    execution_id = api.start("slow", {"seconds": 1})
    holders = [
        threading.Thread(
            target=api.get,
            args=(f"/api/v1/executions/{execution_id}/outputs?wait_for_completion=true",),
        )
        for _ in range(3)
    ]
    for holder in holders:
        holder.start()
    started = time.monotonic()
    assert httpx.get(f"{single.url}/api/v1/environment-info").status_code == 200
    assert Api(single.url, single.sdk_token).get("/api/v1/pipelines").status_code == 200
    assert time.monotonic() - started < 1.0  # each hold lasts up to 2 s
    for holder in holders:
        holder.join()
    api.wait_for(execution_id)


def test_many_held_requests_each_answer_with_their_own_execution(api: Api) -> None:
    # Held requests are looked at together (one status query per tick): each still answers
    # with its own execution's outputs.
    durations = [0.2, 0.8, 1.4]
    ids = [api.start("slow", {"seconds": s}) for s in durations]
    answers: dict[int, list[float]] = {i: [] for i in range(len(ids))}

    def hold(index: int) -> None:
        client = Api(api.url, api.sdk_token)
        try:
            outputs = client.outputs(ids[index])
        finally:
            client.http.close()
        answers[index].append(outputs["outputs"][0]["value"])

    holders = [threading.Thread(target=hold, args=(i % len(ids),)) for i in range(30)]
    for holder in holders:
        holder.start()
    for holder in holders:
        holder.join(30)
    assert answers == {i: [s] * 10 for i, s in enumerate(durations)}
