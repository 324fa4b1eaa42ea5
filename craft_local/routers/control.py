"""``/_local``: fault injection settings and counters, gates, execution counts (never
faulted)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from craft_local.bodies import documented_body, read_body
from craft_local.errors import bad_request, not_found
from craft_local.state import PlatformDep, get_platform


async def require_sdk_or_access_token(request: Request) -> None:
    """``Authorization: Bearer`` with the SDK token itself or an access token."""
    platform = get_platform(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not (scheme.lower() == "bearer" and platform.tokens.is_sdk_token(token.strip())):
        platform.tokens.check_bearer(request.headers.get("authorization"))


router = APIRouter(prefix="/_local", dependencies=[Depends(require_sdk_or_access_token)])


@router.get("/faults")
async def read_faults(platform: PlatformDep) -> dict[str, Any]:
    return platform.faults.snapshot()


@router.put(
    "/faults",
    openapi_extra=documented_body(
        {"rate_503": {"type": "number"}, "reset_mode": {"type": "string"}}
    ),
)
async def change_faults(request: Request, platform: PlatformDep) -> dict[str, Any]:
    body, _ = await read_body(request)
    reset_counters = bool(body.pop("reset_counters", False))
    try:
        platform.faults.reconfigure(body)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if reset_counters:
        platform.faults.counters.clear()
    return platform.faults.snapshot()


@router.get("/gates")
async def read_gates(platform: PlatformDep) -> list[dict[str, Any]]:
    return [gate.view() for gate in platform.faults.gates.values()]


@router.post(
    "/gates",
    openapi_extra=documented_body(
        {
            "method": {"type": "string"},
            "path": {"type": "string"},
            "when": {"type": "string"},
            "action": {"type": "string"},
            "count": {"type": "integer"},
        }
    ),
)
async def add_gate(request: Request, platform: PlatformDep) -> dict[str, Any]:
    """A gate on the next matching requests (``craft_local.faults.Gate``)."""
    body, _ = await read_body(request)
    try:
        return platform.faults.add_gate(body).view()
    except ValueError as exc:
        raise bad_request(str(exc)) from None


@router.post(
    "/gates/{gate_id}/release", openapi_extra=documented_body({"then": {"type": "string"}})
)
async def release_gate(gate_id: int, request: Request, platform: PlatformDep) -> dict[str, Any]:
    """Let the gate's held requests go on (``then``: ``proceed``, the default) or drop them."""
    body, _ = await read_body(request)
    gate = platform.faults.gates.get(gate_id)
    if gate is None:
        raise not_found("Gate", str(gate_id))
    try:
        gate.release(body.get("then", "proceed"))
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return gate.view()


@router.delete("/gates")
async def remove_gates(platform: PlatformDep) -> dict[str, Any]:
    """Release every gate (held requests go on) and forget them."""
    platform.faults.remove_gates()
    return {"gates": []}


@router.get("/status")
async def status(platform: PlatformDep) -> dict[str, Any]:
    """Executions by status and the unfinished ones."""
    store = platform.store
    return {"executions": store.count_by_status(), "unfinished": store.unfinished_ids()}
