"""The platform's error type and the JSON error body every failing response carries (§1.3)."""

from __future__ import annotations

from typing import Any


class PlatformError(Exception):
    """An error answered to the client as ``{message, name, request_id, additional_data}``.

    :param status: HTTP status code.
    :param name: short error name, e.g. ``InvalidInput``.
    :param message: human readable explanation; must never contain a secret.
    :param additional_data: optional JSON-able details.
    """

    def __init__(
        self,
        status: int,
        name: str,
        message: str,
        additional_data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message
        self.additional_data = additional_data


def error_body(
    name: str, message: str, request_id: str, additional_data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build the JSON error body of the contract."""
    return {
        "message": message,
        "name": name,
        "request_id": request_id,
        "additional_data": additional_data,
    }


def bad_request(message: str, name: str = "InvalidRequest", **data: Any) -> PlatformError:
    """A 400; keyword arguments become ``additional_data``."""
    return PlatformError(400, name, message, data or None)


def not_found(kind: str, name: str) -> PlatformError:
    """A 404 named ``<kind>NotFound``, e.g. ``PipelineNotFound``."""
    return PlatformError(404, f"{kind}NotFound", f"{kind} '{name}' does not exist.")


def conflict(message: str, name: str = "Conflict") -> PlatformError:
    """A 409."""
    return PlatformError(409, name, message)


def unauthorized(message: str = "Missing or invalid credentials.") -> PlatformError:
    """A 401 (answered with ``WWW-Authenticate: Bearer``)."""
    return PlatformError(401, "Unauthorized", message)
