"""Public endpoint calls with an endpoint token: trigger, results (long-polled), file outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from craft_local.auth import tokens_equal
from craft_local.bodies import JSON, MULTIPART, documented_body
from craft_local.downloads import file_response
from craft_local.errors import PlatformError, not_found, unauthorized
from craft_local.executions import endpoint_outputs
from craft_local.launch import trigger_deployment
from craft_local.longpoll import redirect_to_self
from craft_local.lookups import execution_or_404
from craft_local.state import PlatformDep
from craft_local.store import TERMINAL_STATUSES, Store

#: No Bearer check (routers/auth.py ROUTE_CREDENTIALS): each route checks the endpoint token of
#: the deployment it addresses.
router = APIRouter(prefix="/endpoints")


def _endpoint_auth(store: Store, path: str, token: str | None) -> dict[str, Any]:
    deployment = store.deployment_by_path(path)
    # Same answer for an unknown path and a bad token: nothing to learn without a token.
    if deployment is None or not tokens_equal(token, deployment["endpoint_token"]):
        raise unauthorized("Unknown endpoint or invalid endpoint token.")
    return deployment


def _endpoint_token(request: Request, *, query: bool = True) -> str | None:
    """The ``Authorization: EndpointToken <t>`` header, else (with ``query``) ``?token=``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "endpointtoken" and token:
        return token.strip()
    return request.query_params.get("token") if query else None


def _endpoint_execution(
    store: Store, deployment: dict[str, Any], execution_id: str
) -> dict[str, Any]:
    """An execution of ``deployment``; 404 for any other (no peeking across endpoints)."""
    execution = store.get_execution(execution_id)
    if execution is None or execution["deployment_name"] != deployment["name"]:
        raise not_found("Execution", execution_id)
    return execution


@router.post("/{path}", openapi_extra=documented_body({}, JSON, MULTIPART))
async def trigger(path: str, request: Request, platform: PlatformDep) -> JSONResponse:
    deployment = _endpoint_auth(platform.store, path, _endpoint_token(request, query=False))
    execution_id = await trigger_deployment(platform, deployment, request)
    # Open question 2: 200 with the id in the body and the legacy header, no redirect;
    # the results URL is /endpoints/v1/{path}/executions/{id}?token=...
    return JSONResponse(
        {"execution_id": execution_id}, headers={"Craft-Ai-Execution-Id": execution_id}
    )


@router.get("/v1/{path}/executions/{execution_id}")
async def results(
    path: str, execution_id: str, request: Request, platform: PlatformDep
) -> Response:
    deployment = _endpoint_auth(platform.store, path, _endpoint_token(request))
    _endpoint_execution(platform.store, deployment, execution_id)
    status = await platform.held_statuses.wait(execution_id, platform.config.long_poll_seconds)
    if status is None:
        raise not_found("Execution", execution_id)
    if status not in TERMINAL_STATUSES:
        return redirect_to_self(request)
    execution = execution_or_404(platform.store, execution_id)
    if status != "Succeeded":
        raise PlatformError(
            500,
            "ExecutionFailed",
            f"Execution '{execution_id}' ended {status}: {execution['error'] or 'no details'}",
            {"execution_id": execution_id, "status": status},
        )
    base = str(request.base_url).rstrip("/")
    files_base = f"{base}/endpoints/v1/{path}/executions/{execution_id}/outputs"
    return JSONResponse(
        {"outputs": endpoint_outputs(execution, files_base), "execution_id": execution_id}
    )


@router.get("/v1/{path}/executions/{execution_id}/outputs/{name}")
async def download(
    path: str, execution_id: str, name: str, request: Request, platform: PlatformDep
) -> Response:
    deployment = _endpoint_auth(platform.store, path, _endpoint_token(request))
    execution = _endpoint_execution(platform.store, deployment, execution_id)
    item = next(
        (
            i
            for i in execution["outputs"]
            if i["mapping_type"] == "endpoint"
            and i["mapping_value"]["endpoint_output_name"] == name
            and "_file" in i
        ),
        None,
    )
    if item is None:
        raise PlatformError(
            404, "NotFound", f"Execution '{execution_id}' has no file output '{name}'."
        )
    rel = Path(item["_file"])
    return file_response(platform.store.execution_dir(execution_id) / rel, rel.name)
