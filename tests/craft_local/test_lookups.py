"""Unknown records are 404s naming what is missing."""

from __future__ import annotations

from platform_kit import (
    Api,
)


def test_unknown_objects_are_404_with_names(api: Api) -> None:
    assert api.get("/api/v1/pipelines/ghost").json()["name"] == "PipelineNotFound"
    assert api.get("/api/v1/executions/ghost-123").status_code == 404
    assert api.get("/api/v1/deployments/ghost").json()["name"] == "DeploymentNotFound"
