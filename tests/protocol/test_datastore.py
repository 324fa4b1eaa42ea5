"""The data-store builders and readers (contract §8), without a server."""

from __future__ import annotations

import io

import pytest

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.errors import CraftAPIError
from craft_airflow.protocol import datastore as ds
from craft_airflow.protocol.http import AuthKind

CONFIG = CraftConnectionConfig(environment_url="https://env.example", sdk_token="sdk-secret-1234")


def test_platform_calls_use_the_access_token_and_relative_paths() -> None:
    listing = ds.build_list_objects(CONFIG, "/folder/sub/", "next-page")
    assert (listing.method, listing.url) == ("GET", "https://env.example/api/v1/data-store/list")
    assert listing.params == (("folder_path", "folder/sub"), ("continuation_token", "next-page"))
    assert ds.build_list_objects(CONFIG, "/").params == ()
    info = ds.build_object_info(CONFIG, "/a/b.csv")
    assert (info.method, info.json) == ("POST", {"path_to_object": "a/b.csv"})
    upload = ds.build_upload_url(CONFIG, "a/b.csv")
    assert (upload.method, upload.params) == ("GET", (("path_to_object", "a/b.csv"),))
    download = ds.build_download_url(CONFIG, "a/b.csv")
    assert (download.method, download.data, download.json) == (
        "POST",
        {"path_to_object": "a/b.csv"},
        None,
    )
    delete = ds.build_delete_object(CONFIG, "a/b.csv")
    assert (delete.method, delete.data) == ("DELETE", {"path_to_object": "a/b.csv"})
    for request in (listing, info, upload, download, delete):
        assert request.auth == AuthKind.BEARER
        assert request.idempotent and not request.creates_execution


def test_presigned_calls_carry_no_platform_credentials() -> None:
    post = ds.build_presigned_upload(
        "https://store.example/bucket", {"key": "a/b", "policy": "p"}, "b", io.BytesIO(b"x"), "a/b"
    )
    assert post.auth == AuthKind.NONE
    assert post.data == {"key": "a/b", "policy": "p"}
    assert [name for name, _ in post.files] == ["file"]
    assert "Authorization" not in post.all_headers(None)
    ranged = ds.build_presigned_download("https://store.example/o?sig=1", "a/b", 10, 20)
    assert ranged.auth == AuthKind.NONE and ranged.stream
    assert ranged.headers == {"Range": "bytes=10-19"}
    assert ds.build_presigned_download("https://store.example/o", "a/b").headers == {}


def test_readers() -> None:
    objects, token = ds.read_object_page(
        {
            "items": [{"path": "a/b.csv", "size": 3, "last_modified": "2026-12-01T10:00:00.000Z"}],
            "continuation_token": "t2",
        }
    )
    assert objects == [ds.DataStoreObject("a/b.csv", 3, "2026-12-01T10:00:00.000Z")]
    assert objects[0].mtime == pytest.approx(1796119200.0)
    assert token == "t2"
    assert ds.read_object_page({"items": [], "continuation_token": None}) == ([], None)
    assert ds.read_object({"path": "/x", "size": "12"}).size == 12
    assert ds.read_object({"path": "x", "size": 1, "last_modified": "garbage"}).mtime is None
    assert ds.read_upload_target({"signed_url": "https://s", "fields": {"k": 1}}) == (
        "https://s",
        {"k": "1"},
    )
    with pytest.raises(CraftAPIError, match="expected 'path' \\(string\\) and 'size' \\(bytes\\)"):
        ds.read_object({"path": "x", "size": "1.2 MB"})
    with pytest.raises(CraftAPIError, match="no 'signed_url'"):
        ds.read_signed_url({}, "the download URL")
