"""Builders: one function per platform call, returning an :class:`HttpRequest`.

Body encodings follow contract §5.1 (runs) and §7.1 / §6.4 (endpoint and deployment triggers)
byte for byte where it matters: field names, JSON-in-form values, which content type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, BinaryIO
from urllib.parse import quote, urljoin, urlsplit

from craft_airflow.protocol.config import ClientConfig
from craft_airflow.protocol.http import (
    AuthKind,
    FileInput,
    HttpRequest,
    TimeoutKind,
    file_parts,
)

Files = Mapping[str, FileInput | tuple[str, BinaryIO]] | None


def _seg(value: str) -> str:
    """Quote one path segment (names are slugs in practice; this keeps odd ones intact)."""
    return quote(value, safe="")


def _env_api(config: ClientConfig, path: str) -> str:
    return f"{config.environment_url}/api/v1/{path}"


def build_refresh(config: ClientConfig) -> HttpRequest:
    """§2.1: exchange the SDK token for an access token (creates nothing: safe to repeat)."""
    return HttpRequest(
        "POST",
        f"{config.control_url}/api/v1/auth/refresh",
        json={"refresh_token": config.sdk_token},
        auth=AuthKind.NONE,
        idempotent=True,
        operation="refresh the access token",
    )


def build_users_me(config: ClientConfig) -> HttpRequest:
    return HttpRequest("GET", f"{config.control_url}/api/v1/users/me", operation="who am I")


def build_environment_info(config: ClientConfig) -> HttpRequest:
    return HttpRequest(
        "GET",
        _env_api(config, "environment-info"),
        auth=AuthKind.NONE,
        operation="read environment info",
    )


def build_get_pipeline(config: ClientConfig, pipeline_name: str) -> HttpRequest:
    return HttpRequest(
        "GET",
        _env_api(config, f"pipelines/{_seg(pipeline_name)}"),
        operation=f"get pipeline {pipeline_name!r}",
    )


def build_list_pipeline_executions(config: ClientConfig, pipeline_name: str) -> HttpRequest:
    return HttpRequest(
        "GET",
        _env_api(config, f"pipelines/{_seg(pipeline_name)}/executions"),
        operation=f"list executions of pipeline {pipeline_name!r}",
    )


def build_run_pipeline(
    config: ClientConfig,
    pipeline_name: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    files: Files = None,
    inputs_mapping: list[dict[str, Any]] | None = None,
    outputs_mapping: list[dict[str, Any]] | None = None,
) -> HttpRequest:
    """§5.1: form-urlencoded without files, multipart with them; ``json_inputs`` always sent."""
    data = {"json_inputs": json.dumps(dict(inputs or {}))}
    if inputs_mapping is not None:
        data["inputs_mapping"] = json.dumps(inputs_mapping)
    if outputs_mapping is not None:
        data["outputs_mapping"] = json.dumps(outputs_mapping)
    return HttpRequest(
        "POST",
        _env_api(config, f"pipelines/{_seg(pipeline_name)}/run"),
        data=data,
        files=file_parts(files),
        idempotent=False,
        creates_execution=True,
        operation=f"run pipeline {pipeline_name!r}",
    )


def _trigger_body(inputs: Mapping[str, Any] | None, files: Files) -> dict[str, Any]:
    """§7.1 body: JSON object without files; multipart with JSON-dumped text parts otherwise."""
    parts = file_parts(files)
    params = dict(inputs or {})
    if not parts:
        return {"json": params}
    return {"data": {k: json.dumps(v) for k, v in params.items()} or None, "files": parts}


def build_get_deployment(config: ClientConfig, deployment_name: str) -> HttpRequest:
    return HttpRequest(
        "GET",
        _env_api(config, f"deployments/{_seg(deployment_name)}"),
        operation=f"get deployment {deployment_name!r}",
    )


def build_trigger_deployment(
    config: ClientConfig,
    deployment_name: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    files: Files = None,
) -> HttpRequest:
    """§6.4: trigger a deployment with the SDK token (Bearer)."""
    return HttpRequest(
        "POST",
        _env_api(config, f"deployments/{_seg(deployment_name)}/executions"),
        **_trigger_body(inputs, files),
        idempotent=False,
        creates_execution=True,
        operation=f"trigger deployment {deployment_name!r}",
    )


def build_trigger_endpoint(
    config: ClientConfig,
    endpoint_url_path: str,
    endpoint_token: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    files: Files = None,
) -> HttpRequest:
    """§7.1: trigger a public endpoint with an EndpointToken."""
    return HttpRequest(
        "POST",
        f"{config.environment_url}/endpoints/{quote(endpoint_url_path.strip('/'), safe='/')}",
        headers={"Authorization": f"EndpointToken {endpoint_token}"},
        **_trigger_body(inputs, files),
        auth=AuthKind.NONE,
        idempotent=False,
        creates_execution=True,
        operation=f"trigger endpoint {endpoint_url_path!r}",
    )


def build_get_execution(
    config: ClientConfig, execution_id: str, *, include_io_values: bool = False
) -> HttpRequest:
    """§5.3. Values are included by default on the platform, so only ``false`` is sent."""
    params = () if include_io_values else (("include_io_values", "false"),)
    return HttpRequest(
        "GET",
        _env_api(config, f"executions/{_seg(execution_id)}"),
        params=params,
        operation=f"get execution {execution_id!r}",
    )


def build_wait_outputs(config: ClientConfig, execution_id: str) -> HttpRequest:
    """§5.4 long-poll: 307 means not finished; never followed automatically."""
    return HttpRequest(
        "GET",
        _env_api(config, f"executions/{_seg(execution_id)}/outputs"),
        params=(("wait_for_completion", "true"),),
        long_poll=True,
        timeout=TimeoutKind.LONG_POLL,
        operation=f"wait for execution {execution_id!r}",
    )


def build_download_output(config: ClientConfig, execution_id: str, output_name: str) -> HttpRequest:
    """§5.5: one output value; file outputs are octet-stream bytes, streamed."""
    return HttpRequest(
        "GET",
        _env_api(config, f"executions/{_seg(execution_id)}/outputs/{_seg(output_name)}"),
        stream=True,
        timeout=TimeoutKind.DOWNLOAD,
        operation=f"download output {output_name!r} of execution {execution_id!r}",
    )


def build_get_logs(
    config: ClientConfig,
    execution_id: str,
    *,
    from_ms: int | None = None,
    limit: int | None = None,
) -> HttpRequest:
    """§5.7: POST with the bounds set (``{}`` without any; reading, so safe to repeat).

    :param from_ms: only lines at or after this time (epoch milliseconds).
    :param limit: at most this many lines (a page: :mod:`craft_airflow.protocol.logs`).
    """
    body: dict[str, int] = {}
    if from_ms is not None:
        body["from"] = from_ms
    if limit is not None:
        body["limit"] = limit
    return HttpRequest(
        "POST",
        _env_api(config, f"executions/{_seg(execution_id)}/logs"),
        json=body,
        idempotent=True,
        operation=f"get logs of execution {execution_id!r}",
    )


def build_get_metrics(
    config: ClientConfig,
    kind: str,
    execution_id: str,
    *,
    page: int = 1,
    items_per_page: int = 5000,
) -> HttpRequest:
    """§9.1: one page of an execution's metrics of ``kind`` (``single-value`` or
    ``list-values``), filtered by execution as the SDK's ``get_metrics`` sends it."""
    return HttpRequest(
        "GET",
        _env_api(config, f"metrics/{_seg(kind)}"),
        params=(
            ("filters[execution_id]", execution_id),
            ("items_per_page", str(items_per_page)),
            ("page", str(page)),
        ),
        operation=f"get {kind} metrics of execution {execution_id!r}",
    )


def build_endpoint_results(
    config: ClientConfig, endpoint_url_path: str, execution_id: str, endpoint_token: str
) -> HttpRequest:
    """§7.2: results with ``?token=``; a 3xx means not finished (not followed)."""
    path = quote(endpoint_url_path.strip("/"), safe="/")
    return HttpRequest(
        "GET",
        f"{config.environment_url}/endpoints/v1/{path}/executions/{_seg(execution_id)}",
        params=(("token", endpoint_token),),
        auth=AuthKind.NONE,
        long_poll=True,
        timeout=TimeoutKind.LONG_POLL,
        operation=f"get results of execution {execution_id!r} of endpoint {endpoint_url_path!r}",
    )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), f"{(parts.hostname or '').lower()}:{port}"


def build_download_endpoint_file(
    config: ClientConfig, url: str, endpoint_token: str
) -> HttpRequest:
    """§7.3: ``GET <url>?token=<token>``, no platform headers needed, streamed.

    The token goes only to the environment's own origin. The SDK appends it to any URL; a file
    URL on another host (open question 6: e.g. a presigned store URL, which carries its own
    credentials) is fetched without it, so an endpoint token never leaves the environment.
    """
    same_origin = _origin(url) == _origin(config.environment_url)
    return HttpRequest(
        "GET",
        url,
        params=(("token", endpoint_token),) if same_origin else (),
        auth=AuthKind.NONE,
        stream=True,
        timeout=TimeoutKind.DOWNLOAD,
        operation="download an endpoint file output",
    )


def build_follow_download(previous: HttpRequest, location: str) -> HttpRequest:
    """A download answered with a redirect (e.g. to a presigned store URL; open questions 6/7):
    fetch the ``Location`` by hand, without platform credentials (it may be another host)."""
    return HttpRequest(
        "GET",
        urljoin(previous.url, location),
        auth=AuthKind.NONE,
        stream=True,
        timeout=TimeoutKind.DOWNLOAD,
        operation=previous.operation,
    )
