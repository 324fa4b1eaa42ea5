"""Pipelines (and their endpoint deployments) declared in a folder, loaded at start.

Layout: ``<folder>/<anything>/pipeline.json`` beside the pipeline's code. The JSON holds
the fields of a pipeline creation (``pipeline_name`` defaults to the folder name,
``function_path``, ``function_name``, ``description``, ``inputs``, ``outputs``) and an
optional ``deployments`` list of endpoint deployment requests (``name``,
``execution_rule: "endpoint"``, ``endpoint_url_path``, ``endpoint_token``,
``execution_timeout_s``, ``inputs_mapping``, ``outputs_mapping``, ``description``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from craft_local.deployments import build_deployment
from craft_local.errors import PlatformError
from craft_local.pipelines import build_parameters
from craft_local.store import Store


class DeclarationError(ValueError):
    """A declaration file is unreadable or invalid."""


def read_declarations(folder: Path) -> list[tuple[dict[str, Any], Path, list[dict[str, Any]]]]:
    """Parse every ``pipeline.json`` under ``folder``: (parameters, code dir, deployments)."""
    result = []
    for path in sorted(folder.glob("*/pipeline.json")):
        try:
            raw = json.loads(path.read_text())
            if not isinstance(raw, dict):
                raise DeclarationError(f"{path}: must hold a JSON object")
            raw.setdefault("pipeline_name", path.parent.name)
            parameters = build_parameters(raw)
        except (ValueError, PlatformError) as exc:
            raise DeclarationError(f"{path}: {exc}") from exc
        if not (path.parent / parameters["function_path"]).is_file():
            raise DeclarationError(f"{path}: no file {parameters['function_path']} beside it")
        deployments = raw.get("deployments") or []
        if not isinstance(deployments, list):
            raise DeclarationError(f"{path}: 'deployments' must be a list")
        result.append((parameters, path.parent.resolve(), deployments))
    return result


def load_declarations(folder: Path, store: Store) -> list[str]:
    """Store the declared pipelines and deployments; return the pipeline names.

    A declared deployment keeps its current endpoint token across restarts unless the
    declaration sets one.
    """
    names = []
    for parameters, code_dir, deployments in read_declarations(folder):
        store.put_pipeline(parameters, code_dir, origin="declared")
        names.append(parameters["pipeline_name"])
        for request in deployments:
            current = store.get_deployment(str(request.get("name")))
            try:
                deployment = build_deployment(
                    request, parameters, current["endpoint_token"] if current else None
                )
            except PlatformError as exc:
                raise DeclarationError(
                    f"{code_dir / 'pipeline.json'}: deployment {request.get('name')!r}: {exc}"
                ) from exc
            if current:
                deployment["created_at"] = current["created_at"]
            store.put_deployment(deployment)
    return names
