"""Public views of executions (§5.2 to §5.4, §7.2) and execution ids."""

from __future__ import annotations

import secrets
import string
from typing import Any

from craft_local.store import TERMINAL_STATUSES

_ALPHABET = string.ascii_lowercase + string.digits


def new_execution_id(pipeline_name: str) -> str:
    """``<pipeline>-<6 random characters>``, e.g. ``word-count-k3x9a2``."""
    return f"{pipeline_name}-{''.join(secrets.choice(_ALPHABET) for _ in range(6))}"


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _io_items(items: list[dict[str, Any]], with_values: bool) -> list[dict[str, Any]]:
    result = []
    for item in items:
        view = _public(item)
        view["mapping_value"] = dict(view.get("mapping_value") or {})
        if not with_values or item["data_type"] == "file":
            view.pop("value", None)
        else:
            view.setdefault("value", None)
        result.append(view)
    return result


def list_item(execution: dict[str, Any]) -> dict[str, Any]:
    """A row of ``GET /pipelines/{p}/executions`` (§5.2)."""
    return {
        "execution_id": execution["execution_id"],
        "status": execution["status"],
        "created_at": execution["created_at"],
        "created_by": "local-user",
        "end_date": execution["end_date"],
        "pipeline_name": execution["pipeline_name"],
        "deployment_name": execution["deployment_name"],
    }


def execution_view(execution: dict[str, Any], include_io_values: bool = True) -> dict[str, Any]:
    """The execution object of ``GET /executions/{id}`` (§5.3).

    Extras beyond the documented fields: ``start_date`` and, once failed, ``error.message``.
    Output values appear only once the execution succeeded.
    """
    succeeded = execution["status"] == "Succeeded"
    view = {
        **list_item(execution),
        "start_date": execution["start_date"],
        "steps": [
            {
                "name": execution["pipeline_name"],
                "status": execution["status"],
                "start_date": execution["start_date"],
                "end_date": execution["end_date"],
                "commit_id": None,
                "repository_url": None,
                "repository_branch": None,
                "requirements_path": None,
                "origin": "local",
            }
        ],
        "inputs": _io_items(execution["inputs"], include_io_values),
        "outputs": _io_items(execution["outputs"], include_io_values and succeeded),
    }
    if execution["error"]:
        view["error"] = {"message": execution["error"]}
    return view


def outputs_view(execution: dict[str, Any]) -> dict[str, Any]:
    """Body of ``GET /executions/{id}/outputs`` once the execution is terminal (§5.4).

    Open question 4 of the contract: a Failed/Error execution answers 200 with the outputs
    that exist, i.e. none, plus the tolerated extras ``status`` and ``error``; clients learn
    of the failure from the status, as with ``GET /executions/{id}``.
    """
    assert execution["status"] in TERMINAL_STATUSES
    body: dict[str, Any] = {"outputs": [], "status": execution["status"]}
    if execution["status"] == "Succeeded":
        body["outputs"] = _io_items(execution["outputs"], True)
    if execution["error"]:
        body["error"] = {"message": execution["error"]}
    return body


def endpoint_outputs(execution: dict[str, Any], files_base: str) -> dict[str, Any]:
    """``outputs`` of the endpoint results body (§7.2), keyed by endpoint output name.

    :param files_base: absolute URL prefix of file downloads; the output name is appended.
    """
    result: dict[str, Any] = {}
    for item in execution["outputs"]:
        if item["mapping_type"] != "endpoint":
            continue
        name = item["mapping_value"]["endpoint_output_name"]
        if item["data_type"] == "file":
            result[name] = {"url": f"{files_base}/{name}" if "_file" in item else None}
        else:
            result[name] = {"value": item.get("value")}
    return result
