"""Access tokens: the SDK-token exchange, the Bearer check of every ``/api/v1`` router, and
which routes take another credential or none (:data:`ROUTE_CREDENTIALS`, the one place those
exceptions are decided; ``tests/craft_local/routers/test_route_credentials.py`` walks the
app's routes against it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request

from craft_local.bodies import documented_body, read_body
from craft_local.state import PlatformDep, get_platform


class Credential(StrEnum):
    """What a route needs from its caller."""

    ACCESS_TOKEN = "an access token (Authorization: Bearer <JWT>)"
    SDK_OR_ACCESS_TOKEN = "the SDK token or an access token (Authorization: Bearer)"
    SDK_TOKEN = "the SDK token as the refresh_token field"
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
    """Dependency of the ``/api/v1`` routers: a valid ``Authorization: Bearer <JWT>``."""
    get_platform(request).tokens.check_bearer(request.headers.get("authorization"))


@router.post("/auth/refresh", openapi_extra=documented_body({"refresh_token": {"type": "string"}}))
async def refresh(request: Request, platform: PlatformDep) -> dict[str, Any]:
    fields, _ = await read_body(request)
    return {"access_token": platform.tokens.refresh(fields.get("refresh_token"))}
