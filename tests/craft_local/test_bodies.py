"""Request bodies: a body that is not JSON."""

from __future__ import annotations

from platform_kit import (
    ERROR_KEYS,
    Api,
)


def test_invalid_json_body_is_400(api: Api) -> None:
    response = api.post(
        "/api/v1/endpoints", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS
