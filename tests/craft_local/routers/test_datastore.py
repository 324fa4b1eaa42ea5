"""The data-store routes and the signed URLs they hand out."""

from __future__ import annotations

import httpx
from platform_kit import (
    Api,
)

from craft_local.server import EmbeddedPlatform


def test_presigned_data_store_urls_are_checked(limited: EmbeddedPlatform) -> None:
    api = Api(limited.url, limited.sdk_token)
    grant = api.get("/api/v1/data-store/upload", params={"path_to_object": "a/b.txt"}).json()
    forged = {**grant["fields"], "key": "a/other.txt"}
    refused = httpx.post(grant["signed_url"], data=forged, files={"file": b"x"})
    assert refused.status_code == 403
    assert refused.text.startswith("<Error><Code>AccessDenied</Code>")
    accepted = httpx.post(grant["signed_url"], data=grant["fields"], files={"file": b"data"})
    assert accepted.status_code == 204
    url = api.post("/api/v1/data-store/download", data={"path_to_object": "a/b.txt"}).json()[
        "signed_url"
    ]
    assert httpx.get(url).content == b"data"
    assert httpx.get(url.replace("signature=", "signature=0")).status_code == 403
    escape = api.get("/api/v1/data-store/upload", params={"path_to_object": "../x"})
    assert escape.status_code == 400
