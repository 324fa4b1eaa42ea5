"""Deployment objects (§6): building them from a creation request and public views."""

from __future__ import annotations

from typing import Any

from craft_local.auth import new_token
from craft_local.errors import bad_request
from craft_local.mappings import normalise_deployment_mappings
from craft_local.pipelines import NAME_RE
from craft_local.schedules import check_schedule, human_readable
from craft_local.store import now_iso

#: Kept in the stored deployment, never shown: when its schedule started counting ticks.
SCHEDULE_SINCE = "_schedule_since"


def build_deployment(
    request: dict[str, Any], parameters: dict[str, Any], current_token: str | None = None
) -> dict[str, Any]:
    """Validate a deployment request and return the stored deployment object.

    :param request: the ``POST /endpoints`` or ``POST /periodic-deployment`` body (or a
        declared deployment), with its ``execution_rule``.
    :param parameters: the target pipeline's parameters.
    :param current_token: token to keep when the request sets none (re-declared deployments).
    """
    name = request.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise bad_request("name must be 1-63 characters of lower-case letters, digits and '-'.")
    rule = request.get("execution_rule", "endpoint")
    if rule not in ("endpoint", "periodic"):
        raise bad_request(f"execution_rule must be 'endpoint' or 'periodic', got {rule!r}.")
    rule_fields: dict[str, Any]
    if rule == "endpoint":
        path = request.get("endpoint_url_path") or name
        if not isinstance(path, str) or not NAME_RE.match(path):
            raise bad_request("endpoint_url_path must be lower-case letters, digits and '-'.")
        token = request.get("endpoint_token") or current_token or new_token()
        if not isinstance(token, str) or len(token) < 8:
            raise bad_request("endpoint_token must be a string of at least 8 characters.")
        rule_fields = {"endpoint_url_path": path, "endpoint_token": token}
    else:
        for field in ("endpoint_url_path", "endpoint_token"):
            if request.get(field) is not None:
                raise bad_request(f"{field} applies to endpoint deployments only.")
        schedule = check_schedule(request.get("schedule"))
        rule_fields = {
            "schedule": schedule,
            "human_readable_schedule": human_readable(schedule),
            SCHEDULE_SINCE: now_iso(),
        }
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
        **rule_fields,
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


def deployment_view(deployment: dict[str, Any]) -> dict[str, Any]:
    """A deployment as the API shows it (§6.1): without the scheduler's bookkeeping."""
    return {k: v for k, v in deployment.items() if k != SCHEDULE_SINCE}


def apply_update(
    deployment: dict[str, Any], request: dict[str, Any], parameters: dict[str, Any], now: str
) -> dict[str, Any]:
    """The deployment after a ``PATCH /deployments/{name}`` (§6.5); 400 naming the field.

    Re-enabling a deployment or changing its schedule starts counting ticks at ``now``: the
    ticks of a disabled deployment are not run later.

    :param request: a subset of ``is_enabled``, ``schedule``, ``inputs_mapping``,
        ``outputs_mapping``.
    :param now: the scheduler's clock (ISO, UTC).
    """
    known = {"is_enabled", "schedule", "inputs_mapping", "outputs_mapping"}
    unknown = sorted(set(request) - known)
    if unknown:
        raise bad_request(f"Unknown field(s) {unknown}: a deployment update takes {sorted(known)}.")
    if not request:
        raise bad_request(f"A deployment update needs one of {sorted(known)}.")
    updated = dict(deployment)
    periodic = deployment["execution_rule"] == "periodic"
    if "is_enabled" in request:
        enabled = request["is_enabled"]
        if not isinstance(enabled, bool):
            raise bad_request(f"is_enabled must be true or false, got {enabled!r}.")
        if enabled and not deployment["is_enabled"] and periodic:
            updated[SCHEDULE_SINCE] = now
        updated["is_enabled"] = enabled
    if "schedule" in request:
        if not periodic:
            raise bad_request("schedule applies to periodic deployments only.")
        schedule = check_schedule(request["schedule"])
        if schedule != deployment["schedule"]:
            updated.update(schedule=schedule, human_readable_schedule=human_readable(schedule))
            updated[SCHEDULE_SINCE] = now
    for key, name_key in (
        ("inputs_mapping", "pipeline_input_name"),
        ("outputs_mapping", "pipeline_output_name"),
    ):
        if key in request:
            updated[key] = _changed_values(deployment[key], request[key], key, name_key)
    # The changed values are checked as a creation would check them.
    normalise_deployment_mappings(
        parameters,
        updated["inputs_mapping"],
        updated["outputs_mapping"],
        deployment["execution_rule"],
    )
    updated["updated_at"] = now_iso()
    return updated


_CHANGEABLE = ("constant_value", "datastore_path")


def _changed_values(
    current: list[dict[str, Any]], changes: Any, key: str, name_key: str
) -> list[dict[str, Any]]:
    """``current`` with the constant values and data-store paths of ``changes``."""
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise bad_request(f"{key} must be a list of objects.")
    by_name = {m[name_key]: dict(m) for m in current}
    for change in changes:
        name = change.get(name_key)
        if name not in by_name:
            raise bad_request(f"{key}: {name_key} {name!r} is not mapped by this deployment.")
        mapping = by_name[name]
        for kind, value in change.items():
            if kind in (name_key, "data_type", "description"):
                continue
            if kind not in _CHANGEABLE or kind not in mapping:
                current_kind = next((k for k in _CHANGEABLE if k in mapping), "none")
                raise bad_request(
                    f"{key}: '{name}' can only change the value of its current mapping"
                    f" ({current_kind}), not {kind!r}."
                )
            mapping[kind] = value
    return [by_name[m[name_key]] for m in current]


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
