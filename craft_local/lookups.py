"""The records a route addresses, or the ``404`` naming what is missing."""

from __future__ import annotations

from typing import Any

from craft_local.errors import not_found
from craft_local.store import Store


def pipeline_or_404(store: Store, name: str) -> dict[str, Any]:
    """The pipeline record ``name``."""
    record = store.get_pipeline(name)
    if record is None:
        raise not_found("Pipeline", name)
    return record


def execution_or_404(store: Store, execution_id: str) -> dict[str, Any]:
    """The execution record ``execution_id``."""
    execution = store.get_execution(execution_id)
    if execution is None:
        raise not_found("Execution", execution_id)
    return execution


def deployment_or_404(store: Store, name: str) -> dict[str, Any]:
    """The deployment record ``name``."""
    deployment = store.get_deployment(name)
    if deployment is None:
        raise not_found("Deployment", name)
    return deployment
