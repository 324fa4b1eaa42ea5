"""Execution metrics (§9.1): recorded by pipeline code with its execution's credential (the
access token of ``CRAFT_AI_SDK_TOKEN`` in its environment), read with an access token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from craft_local.bodies import documented_body, read_body
from craft_local.metrics import (
    check_name,
    check_own_execution,
    check_value,
    check_values,
    read_filters,
    read_page,
)
from craft_local.routers.auth import require_bearer, require_execution_bearer
from craft_local.state import PlatformDep

#: Written from inside a running execution: its credential, for its own metrics only.
record_router = APIRouter(prefix="/api/v1/metrics")
#: Read like the rest of the API.
read_router = APIRouter(prefix="/api/v1/metrics", dependencies=[Depends(require_bearer)])

RunningExecution = Annotated[str, Depends(require_execution_bearer)]
_NUMBER = {"type": "number"}


@record_router.put(
    "/single-value/{name}",
    openapi_extra=documented_body({"value": _NUMBER, "execution_id": {"type": "string"}}),
)
async def record_metric(
    name: str, request: Request, execution_id: RunningExecution, platform: PlatformDep
) -> dict[str, Any]:
    fields, _ = await read_body(request)
    check_own_execution(fields.get("execution_id"), execution_id)
    value = check_value(fields.get("value"), "'value'")
    platform.store.put_metric(execution_id, check_name(name), value)
    return {"name": name, "value": value, "execution_id": execution_id}


@record_router.post(
    "/list-values/{name}",
    openapi_extra=documented_body(
        {"values": {"type": "array", "items": _NUMBER}, "execution_id": {"type": "string"}}
    ),
)
async def record_list_metric(
    name: str, request: Request, execution_id: RunningExecution, platform: PlatformDep
) -> dict[str, Any]:
    fields, _ = await read_body(request)
    check_own_execution(fields.get("execution_id"), execution_id)
    values = check_values(fields.get("values"))
    platform.store.extend_list_metric(execution_id, check_name(name), values)
    return {"name": name, "count": len(values), "execution_id": execution_id}


def _read(kind: str, request: Request, platform: PlatformDep) -> dict[str, Any]:
    filters = read_filters(request.query_params)
    offset, limit = read_page(request.query_params)
    metrics, total = platform.store.metrics(kind, filters, offset, limit)
    return {"metrics": metrics, "total_count": total}


@read_router.get("/single-value")
async def single_value_metrics(request: Request, platform: PlatformDep) -> dict[str, Any]:
    return _read("single", request, platform)


@read_router.get("/list-values")
async def list_value_metrics(request: Request, platform: PlatformDep) -> dict[str, Any]:
    return _read("list", request, platform)
