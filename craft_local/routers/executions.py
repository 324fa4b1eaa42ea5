"""Executions: status, outputs (long-polled), input and output values, logs, deletion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from craft_local.bodies import documented_body, read_body
from craft_local.downloads import file_response
from craft_local.errors import PlatformError, bad_request
from craft_local.executions import execution_view, outputs_view
from craft_local.longpoll import redirect_to_self
from craft_local.lookups import execution_or_404
from craft_local.routers.auth import require_bearer
from craft_local.state import PlatformDep
from craft_local.store import TERMINAL_STATUSES

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_bearer)])


def _value_response(execution: dict[str, Any], items: str, name: str, exec_dir: Path) -> Response:
    """One input/output value: bytes for files, JSON otherwise (§5.5, §5.6)."""
    key = "pipeline_input_name" if items == "inputs" else "pipeline_output_name"
    item = next((i for i in execution[items] if i[key] == name), None)
    if item is None:
        raise PlatformError(
            404,
            "NotFound",
            f"Execution '{execution['execution_id']}' has no {items[:-1]} '{name}'.",
        )
    if items == "outputs" and execution["status"] != "Succeeded":
        raise PlatformError(
            409,
            "OutputNotAvailable",
            f"Execution '{execution['execution_id']}' is {execution['status']}: no output values.",
        )
    if "_file" in item:
        rel = Path(item["_file"])
        return file_response(exec_dir / rel, rel.name)
    return JSONResponse(item.get("value"))


@router.get("/executions/{execution_id}")
async def get_execution(
    execution_id: str, platform: PlatformDep, include_io_values: str = "true"
) -> dict[str, Any]:
    execution = execution_or_404(platform.store, execution_id)
    return execution_view(execution, include_io_values.lower() != "false")


@router.get("/executions/{execution_id}/outputs")
async def get_outputs(
    execution_id: str, request: Request, platform: PlatformDep, wait_for_completion: str = "false"
) -> Any:
    execution_or_404(platform.store, execution_id)
    if wait_for_completion.lower() == "true":
        status = await platform.held_statuses.wait(execution_id, platform.config.long_poll_seconds)
        if status is not None and status not in TERMINAL_STATUSES:
            return redirect_to_self(request)
    execution = execution_or_404(platform.store, execution_id)
    if execution["status"] not in TERMINAL_STATUSES:
        return {"outputs": [], "status": execution["status"]}
    return outputs_view(execution)


@router.get("/executions/{execution_id}/outputs/{name}")
async def get_output(execution_id: str, name: str, platform: PlatformDep) -> Response:
    execution = execution_or_404(platform.store, execution_id)
    return _value_response(execution, "outputs", name, platform.store.execution_dir(execution_id))


@router.get("/executions/{execution_id}/inputs/{name}")
async def get_input(execution_id: str, name: str, platform: PlatformDep) -> Response:
    execution = execution_or_404(platform.store, execution_id)
    return _value_response(execution, "inputs", name, platform.store.execution_dir(execution_id))


@router.post(
    "/executions/{execution_id}/logs",
    openapi_extra=documented_body(
        {"from": {"type": "integer"}, "to": {"type": "integer"}, "limit": {"type": "integer"}}
    ),
)
async def get_logs(
    execution_id: str, request: Request, platform: PlatformDep
) -> list[list[dict[str, str]]]:
    execution_or_404(platform.store, execution_id)
    body, _ = await read_body(request)
    bounds = {}
    for key in ("from", "to", "limit"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise bad_request(f"'{key}' must be an integer (epoch milliseconds for from/to).")
        bounds[key] = value
    if bounds["limit"] is not None and bounds["limit"] < 0:
        raise bad_request("'limit' must not be negative.")
    logs = await run_in_threadpool(
        platform.store.logs, execution_id, bounds["from"], bounds["to"], bounds["limit"]
    )
    return [logs]


@router.delete("/executions/{execution_id}")
async def delete_execution(execution_id: str, platform: PlatformDep) -> dict[str, str]:
    execution = execution_or_404(platform.store, execution_id)
    # Open question 15: deleting a running execution stops its process.
    if execution["status"] not in TERMINAL_STATUSES:
        platform.runner.cancel(execution_id)
    await run_in_threadpool(platform.store.delete_execution, execution_id)
    return {"execution_id": execution_id}
