"""Access tokens: the SDK-token exchange, and the Bearer check of every ``/api/v1`` router."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from craft_local.bodies import documented_body, read_body
from craft_local.state import PlatformDep, get_platform

#: Public: the refresh token (the SDK token) is the credential.
router = APIRouter(prefix="/api/v1")


async def require_bearer(request: Request) -> None:
    """Dependency of the ``/api/v1`` routers: a valid ``Authorization: Bearer <JWT>``."""
    get_platform(request).tokens.check_bearer(request.headers.get("authorization"))


@router.post("/auth/refresh", openapi_extra=documented_body({"refresh_token": {"type": "string"}}))
async def refresh(request: Request, platform: PlatformDep) -> dict[str, Any]:
    fields, _ = await read_body(request)
    return {"access_token": platform.tokens.refresh(fields.get("refresh_token"))}
