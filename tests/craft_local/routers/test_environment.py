"""The environment routes: its id without auth, the project information."""

from __future__ import annotations

import httpx
from platform_kit import (
    Api,
)

from craft_local.server import EmbeddedPlatform


def test_environment_info_needs_no_auth(platform: EmbeddedPlatform) -> None:
    response = httpx.get(f"{platform.url}/api/v1/environment-info")
    assert response.status_code == 200
    assert response.json()["environment_id"]


def test_project_information(api: Api) -> None:
    response = api.get("/api/v1/project-information")
    assert response.status_code == 200
    assert "included_folders" in response.json()
