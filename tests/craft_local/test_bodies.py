"""Request bodies: parsed only as their declared type, bounded before parsing, strict JSON."""

from __future__ import annotations

import json

import httpx
from platform_kit import ALL_TYPES_TOKEN, ERROR_KEYS, Api, start_platform, trigger_endpoint

from craft_local.jsontext import MAX_JSON_DEPTH
from craft_local.server import EmbeddedPlatform


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_invalid_json_body_is_400(api: Api) -> None:
    response = api.post(
        "/api/v1/endpoints", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["name"] == "InvalidJson"


def test_a_body_of_another_declared_type_is_415_and_never_parsed(
    platform: EmbeddedPlatform,
) -> None:
    url = f"{platform.url}/api/v1/auth/refresh"
    body = json.dumps({"refresh_token": platform.sdk_token}).encode()
    for content_type in ("text/plain", "application/octet-stream", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = httpx.post(url, content=body, headers=headers)
        assert response.status_code == 415, (content_type, response.text)
        assert response.json()["name"] == "UnsupportedMediaType"
        assert (content_type or "no Content-Type") in response.json()["message"]
    declared = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert declared.status_code == 200


def test_a_json_body_above_its_limit_is_413_before_parsing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    small = start_platform(tmp_path, "--max-json-bytes", "10000", declared=False)
    try:
        url = f"{small.url}/api/v1/auth/refresh"
        big = b'{"refresh_token": "' + b"x" * 20_000 + b'"}'
        response = httpx.post(url, content=big, headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert "10000 bytes" in response.json()["message"]

        def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: counted while read
            yield b'{"refresh_token": "'
            for _ in range(5):
                yield b"x" * 5_000
            yield b'"}'

        streamed = httpx.post(url, content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        form = httpx.post(url, data={"refresh_token": "y" * 20_000})
        assert form.status_code == 413
    finally:
        small.stop()


def test_deep_nesting_is_400_naming_the_depth(api: Api) -> None:
    for depth in (MAX_JSON_DEPTH + 5, 5_000, 200_000):
        body = '{"refresh_token": ' + _nested(depth) + "}"
        response = api.post(
            "/api/v1/auth/refresh", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, depth
        assert response.json()["name"] == "JsonTooDeep"
        assert str(MAX_JSON_DEPTH) in response.json()["message"]
    form_key = "inputs" + "[a]" * (MAX_JSON_DEPTH + 2)
    response = api.post("/api/v1/pipelines", data={"pipeline_name": "deep", form_key: "1"})
    assert response.status_code == 400
    assert response.json()["name"] == "JsonTooDeep"


def test_nan_infinity_and_lone_surrogates_are_refused(api: Api) -> None:
    for text in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = '{"json_inputs": {"text": "a", "number": ' + text + "}}"
        response = api.post(
            "/api/v1/pipelines/all-types/run",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, text
        assert response.json()["name"] == "InvalidJson"
    body = '{"json_inputs": {"text": "\\ud800"}}'
    response = api.post(
        "/api/v1/pipelines/all-types/run",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "Unicode" in response.json()["message"]


def test_nan_in_a_form_field_is_refused_naming_the_input(
    platform: EmbeddedPlatform, api: Api
) -> None:
    run = api.run("all-types", {"text": "a"}, inputs_mapping=[])
    assert run.status_code == 200  # control: the same call with a number is accepted
    for text in ("NaN", "inf", "1e999"):
        response = trigger_endpoint(
            platform,
            "all-types-endpoint",
            ALL_TYPES_TOKEN,
            files={"text": (None, '"a"'), "number": (None, text)},
        )
        assert response.status_code == 400, (text, response.text)
        assert "'number'" in response.json()["message"]
