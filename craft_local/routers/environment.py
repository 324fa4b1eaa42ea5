"""The environment: its id (public), the user, the project, environment variables."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request

from craft_local.auth import USER
from craft_local.bodies import documented_body, read_body
from craft_local.errors import bad_request, not_found
from craft_local.routers.auth import require_bearer
from craft_local.state import PlatformDep
from craft_local.store import Store

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Public (routers/auth.py ROUTE_CREDENTIALS): the environment id, read without a token.
public_router = APIRouter(prefix="/api/v1")
router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_bearer)])


@public_router.get("/environment-info")
async def environment_info(platform: PlatformDep) -> dict[str, Any]:
    return {"environment_id": platform.environment_id}


@router.get("/users/me")
async def me() -> dict[str, Any]:
    return dict(USER)


@router.get("/users/{user_id}")
async def user(user_id: str) -> dict[str, Any]:
    if user_id != USER["id"]:
        raise not_found("User", user_id)
    return dict(USER)


@router.get("/project-information")
async def project_information() -> dict[str, Any]:
    return {
        "name": "local",
        "language": "python:3.11-slim",
        "requirements_path": None,
        "included_folders": None,
        "system_dependencies": None,
        "repository_url": None,
        "repository_branch": None,
        "dockerfile_path": None,
    }


def _env_list(store: Store) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in store.env_vars().items()]


@router.get("/environment-variables")
async def list_env(platform: PlatformDep) -> list[dict[str, str]]:
    return _env_list(platform.store)


@router.put(
    "/environment-variables",
    openapi_extra=documented_body({"environment_variables": {"type": "object"}}),
)
async def put_env(request: Request, platform: PlatformDep) -> list[dict[str, str]]:
    fields, _ = await read_body(request)
    values = fields.get("environment_variables")
    if not isinstance(values, dict):
        raise bad_request("Expected {'environment_variables': {NAME: value}}.")
    clean = {}
    for name, value in values.items():
        if not _ENV_NAME.match(name):
            raise bad_request(f"Invalid environment variable name {name!r}.")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad_request(f"The value of '{name}' must be a string.")
        clean[name] = str(value)
    platform.store.set_env_vars(clean)
    return _env_list(platform.store)


@router.delete("/environment-variables/{name}")
async def delete_env(name: str, platform: PlatformDep) -> dict[str, str]:
    value = platform.store.delete_env_var(name)
    if value is None:
        raise not_found("EnvironmentVariable", name)
    return {"name": name, "value": value}
