"""Access tokens: the SDK-token exchange, the Bearer check of every ``/api/v1`` router, and
which routes take another credential or none (:data:`ROUTE_CREDENTIALS`, the one place those
exceptions are decided; ``tests/craft_local/routers/test_route_credentials.py`` walks the
app's routes against it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request

from craft_local.auth import EXECUTION_CLAIM
from craft_local.bodies import documented_body, read_body
from craft_local.errors import PlatformError, unauthorized
from craft_local.state import PlatformDep, get_platform


class Credential(StrEnum):
    """What a route needs from its caller."""

    ACCESS_TOKEN = "an access token (Authorization: Bearer <JWT>)"
    SDK_OR_ACCESS_TOKEN = "the SDK token or an access token (Authorization: Bearer)"
    SDK_TOKEN = "the SDK token (or a running execution's credential) as the refresh_token field"
    EXECUTION_TOKEN = "an access token of the running execution's credential (Bearer)"
    ENDPOINT_TOKEN = "the endpoint token of the deployment addressed"
    SIGNATURE = "the signature of a URL the data-store routes handed out"
    POD_TOKEN = "the pod token of the execution (kubernetes runtime only)"
    NONE = "nothing: public"


#: ``(path prefix, credential, why)``, most specific first: the first prefix a route's path
#: starts with decides. Every route not under ``/api/v1`` or ``/_local`` that is not listed is a
#: page: no credential, and so no secret shown (:mod:`craft_local.pages.views`).
ROUTE_CREDENTIALS: tuple[tuple[str, Credential, str], ...] = (
    (
        "/api/v1/environment-info",
        Credential.NONE,
        "clients and readiness checks read the environment id without a token",
    ),
    ("/api/v1/auth/refresh", Credential.SDK_TOKEN, "the exchange that issues access tokens"),
    (
        "/api/v1/metrics/single-value/",
        Credential.EXECUTION_TOKEN,
        "pipeline code records its own execution's metrics, and nothing else",
    ),
    (
        "/api/v1/metrics/list-values/",
        Credential.EXECUTION_TOKEN,
        "pipeline code records its own execution's metrics, and nothing else",
    ),
    ("/api/v1/", Credential.ACCESS_TOKEN, "the platform API"),
    ("/_local/data-store/", Credential.SIGNATURE, "presigned upload and download URLs"),
    ("/_local/", Credential.SDK_OR_ACCESS_TOKEN, "fault injection and counters"),
    ("/endpoints/", Credential.ENDPOINT_TOKEN, "each route checks its deployment's token"),
    ("/pod-api/", Credential.POD_TOKEN, "what a pod fetches and posts while it runs"),
    ("/", Credential.NONE, "HTML pages for a person, on loopback, showing no secret"),
)


def credential_for(path: str) -> Credential:
    """The credential the route at ``path`` (a route template, e.g. ``/api/v1/pipelines/{p}``)
    needs, from :data:`ROUTE_CREDENTIALS`."""
    return next(cred for prefix, cred, _ in ROUTE_CREDENTIALS if path.startswith(prefix))


#: The SDK token (the refresh token) is the credential: see :data:`ROUTE_CREDENTIALS`.
router = APIRouter(prefix="/api/v1")


async def require_bearer(request: Request) -> None:
    """Dependency of the ``/api/v1`` routers: a valid ``Authorization: Bearer <JWT>``, not one
    of an execution's credential."""
    get_platform(request).tokens.check_bearer(request.headers.get("authorization"))


async def require_execution_bearer(request: Request) -> str:
    """Dependency of the metric-recording routes: the access token of a running execution's
    credential; returns that execution's id."""
    platform = get_platform(request)
    claims = platform.tokens.check_bearer(
        request.headers.get("authorization"), execution_scope=True
    )
    execution_id = claims.get(EXECUTION_CLAIM)
    if not isinstance(execution_id, str):
        raise PlatformError(
            403,
            "Forbidden",
            "Metrics are recorded from inside a running execution, with its credential.",
        )
    if platform.store.get_status(execution_id) != "Running":
        raise unauthorized(f"Execution '{execution_id}' is not running: its credential ended.")
    return execution_id


@router.post("/auth/refresh", openapi_extra=documented_body({"refresh_token": {"type": "string"}}))
async def refresh(request: Request, platform: PlatformDep) -> dict[str, Any]:
    fields, _ = await read_body(request)
    token = fields.get("refresh_token")
    execution_id = platform.tokens.execution_of(token)
    if execution_id is None:
        return {"access_token": platform.tokens.refresh(token)}
    if platform.store.get_status(execution_id) != "Running":
        raise unauthorized(f"Execution '{execution_id}' is not running: its credential ended.")
    return {"access_token": platform.tokens.refresh_execution(execution_id)}
