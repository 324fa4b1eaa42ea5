"""Code archive extraction and request size limits."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from platform_kit import Api, make_tarball, start_platform

from craft_airflow.local.server import EmbeddedPlatform
from craft_airflow.local.tarball import UnsafeArchive, safe_extract


def _archive(*members: tarfile.TarInfo) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    buffer.seek(0)
    return buffer


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_member("/etc/evil"), "absolute"),
        (_member("../evil"), "'..'"),
        (_member("a/../../evil"), "'..'"),
        (_member("link", tarfile.SYMTYPE, link="/etc/passwd"), "link"),
        (_member("hard", tarfile.LNKTYPE, link="main.py"), "link"),
        (_member("dev", tarfile.CHRTYPE), "special"),
        (_member("fifo", tarfile.FIFOTYPE), "special"),
    ],
)
def test_unsafe_members_are_refused(tmp_path: Path, member: tarfile.TarInfo, reason: str) -> None:
    archive = _archive(_member("main.py"), member)
    with pytest.raises(UnsafeArchive, match=reason):
        safe_extract(archive, tmp_path / "out", 10_000)
    assert not (tmp_path / "out").exists()  # nothing written before the checks passed
    assert not (tmp_path / "evil").exists()


def test_size_and_garbage_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeArchive, match="larger than"):
        safe_extract(_archive(_member("big", size=5000)), tmp_path / "a", 4000)
    with pytest.raises(UnsafeArchive, match="not a readable"):
        safe_extract(io.BytesIO(b"not a tarball"), tmp_path / "b", 4000)
    safe_extract(_archive(_member("ok/file.py", size=10)), tmp_path / "c", 4000)
    assert (tmp_path / "c" / "ok" / "file.py").read_bytes() == b"x" * 10


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    p = start_platform(
        tmp_path_factory.mktemp("limited"),
        "--max-request-bytes",
        "200000",
        "--max-code-bytes",
        "5000",
    )
    yield p
    p.stop()


def test_malicious_archive_over_http(limited: EmbeddedPlatform, tmp_path: Path) -> None:
    api = Api(limited.url, limited.sdk_token)
    archive = _archive(_member("src/main.py"), _member("../../escaped.py"))
    response = api.post(
        "/api/v1/pipelines",
        data={"pipeline_name": "evil", "function_path": "src/main.py", "function_name": "main"},
        files={"step_file": ("s.tgz", archive.getvalue())},
    )
    assert response.status_code == 400
    assert "'..'" in response.json()["message"]
    assert not list(limited.data_dir.parent.rglob("escaped.py"))
    assert api.get("/api/v1/pipelines/evil").status_code == 404


def test_code_larger_than_limit_is_refused(limited: EmbeddedPlatform) -> None:
    api = Api(limited.url, limited.sdk_token)
    response = api.post(
        "/api/v1/pipelines",
        data={"pipeline_name": "big-code", "function_path": "main.py", "function_name": "main"},
        files={"step_file": ("s.tgz", make_tarball({"main.py": "#" * 6000}))},
    )
    assert response.status_code == 400
    assert "larger than 5000" in response.json()["message"]


def test_request_body_limit_is_413(limited: EmbeddedPlatform) -> None:
    api = Api(limited.url, limited.sdk_token)
    big = api.run("word-count", files={"document": ("big.txt", b"x" * 300_000)})
    assert big.status_code == 413
    assert big.json()["name"] == "PayloadTooLarge"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(30):
            yield b"x" * 10_000

    streamed = httpx.post(
        f"{limited.url}/endpoints/word-count-endpoint",
        content=chunks(),
        headers={
            "Authorization": "EndpointToken word-count-endpoint-local-token",
            "Content-Type": "application/json",
        },
    )
    assert streamed.status_code == 413
    assert set(streamed.json()) == {"message", "name", "request_id", "additional_data"}
    small = api.run("word-count", files={"document": ("small.txt", b"x y")})
    assert small.status_code == 200


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
