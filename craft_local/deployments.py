"""Deployment objects (§6): building them from a creation request and public views."""

from __future__ import annotations

from typing import Any

from craft_local.auth import new_token
from craft_local.errors import bad_request
from craft_local.mappings import normalise_deployment_mappings
from craft_local.pipelines import NAME_RE
from craft_local.store import now_iso


def build_deployment(
    request: dict[str, Any], parameters: dict[str, Any], current_token: str | None = None
) -> dict[str, Any]:
    """Validate an endpoint deployment request and return the stored deployment object.

    :param request: the ``POST /endpoints`` body (or a declared deployment).
    :param parameters: the target pipeline's parameters.
    :param current_token: token to keep when the request sets none (re-declared deployments).
    """
    name = request.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise bad_request("name must be 1-63 characters of lower-case letters, digits and '-'.")
    rule = request.get("execution_rule", "endpoint")
    if rule != "endpoint":
        raise bad_request(
            "The embedded platform only supports endpoint deployments.", name="NotSupported"
        )
    path = request.get("endpoint_url_path") or name
    if not isinstance(path, str) or not NAME_RE.match(path):
        raise bad_request("endpoint_url_path must be lower-case letters, digits and '-'.")
    token = request.get("endpoint_token") or current_token or new_token()
    if not isinstance(token, str) or len(token) < 8:
        raise bad_request("endpoint_token must be a string of at least 8 characters.")
    timeout = request.get("execution_timeout_s")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise bad_request("execution_timeout_s must be a positive number.")
    inputs_mapping, outputs_mapping = normalise_deployment_mappings(
        parameters, request.get("inputs_mapping"), request.get("outputs_mapping"), rule
    )
    now = now_iso()
    return {
        "name": name,
        "mode": request.get("mode") or "elastic",
        "pipeline": {"name": parameters["pipeline_name"], "id": parameters["pipeline_name"]},
        "execution_rule": rule,
        "endpoint_url_path": path,
        "endpoint_token": token,
        "inputs_mapping": inputs_mapping,
        "outputs_mapping": outputs_mapping,
        "created_at": now,
        "created_by": "local-user",
        "updated_at": now,
        "updated_by": "local-user",
        "is_enabled": True,
        "description": request.get("description") or "",
        "status": "up",
        "execution_timeout_s": timeout,
        "id": name,
        "is_archived": False,
    }


def list_item(deployment: dict[str, Any]) -> dict[str, Any]:
    """A row of ``GET /deployments`` (§6.3)."""
    return {
        "name": deployment["name"],
        "pipeline_name": deployment["pipeline"]["name"],
        "execution_rule": deployment["execution_rule"],
        "mode": deployment["mode"],
        "is_enabled": deployment["is_enabled"],
        "created_at": deployment["created_at"],
    }
