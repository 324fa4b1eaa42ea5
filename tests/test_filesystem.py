"""The data store as an fsspec filesystem, against the embedded platform over real HTTP.

Most tests go through ``ObjectStoragePath`` as a task would. Two recording reverse proxies sit
in front of the platform: one as the environment URL (platform calls), one as the host of the
presigned URLs (transfers; the first proxy rewrites the URLs the platform hands out), so the
tests see every request, and what the official SDK sends for the same calls.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "hooks"))

from scripted_server import Recorded, ScriptedServer, reply

from craft_airflow.filesystem import path_conn_id

CONN = "craft_ai_default"


class RewritingProxy(ScriptedServer):
    """A recording proxy that points the platform's presigned URLs at another proxy."""

    def __init__(self, upstream: str, store_url: str) -> None:
        super().__init__(upstream)
        self.store_url = store_url

    def _forward(
        self, recorded: Recorded, raw_path: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        status, headers, body = super()._forward(recorded, raw_path)
        assert self.upstream
        return status, headers, body.replace(self.upstream.encode(), self.store_url.encode())


@pytest.fixture
def store(craft_platform: Any) -> Iterator[ScriptedServer]:
    """The presigned URLs' host: records transfers, forwards them to the platform."""
    with ScriptedServer(upstream=craft_platform.url) as server:
        yield server


@pytest.fixture
def env(craft_platform: Any, store: ScriptedServer) -> Iterator[ScriptedServer]:
    """The environment URL: records platform calls, forwards them to the platform."""
    with RewritingProxy(craft_platform.url, store.url) as server:
        yield server


def set_conn(
    monkeypatch: pytest.MonkeyPatch, host: str, password: str | None, conn_id: str = CONN
) -> None:
    conn: dict[str, Any] = {"conn_type": "craft_ai", "host": host, "extra": {"control_url": host}}
    if password is not None:
        conn["password"] = password
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture(autouse=True)
def fresh_stores() -> Iterator[None]:
    """Airflow caches one filesystem per (scheme, connection): each test reads its connection."""
    from airflow.sdk.io.store import _STORE_CACHE

    _STORE_CACHE.clear()
    yield
    _STORE_CACHE.clear()


@pytest.fixture
def conn(
    monkeypatch: pytest.MonkeyPatch, craft_platform: Any, env: ScriptedServer
) -> ScriptedServer:
    """``craft_ai_default`` pointing at the recording proxy in front of the platform."""
    set_conn(monkeypatch, env.url, craft_platform.sdk_token)
    return env


@pytest.fixture
def root(conn: ScriptedServer, request: pytest.FixtureRequest) -> Any:
    """A folder of the data store of its own for each test."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"craft://{CONN}@/tests/{request.node.name}")


def stored(craft_platform: Any, key: str) -> Path:
    """The platform's own file behind a data-store object."""
    return Path(craft_platform.data_dir) / "datastore" / key


# -- registration and paths ---------------------------------------------------------------


def test_registered_as_airflow_filesystem_for_craft(conn: ScriptedServer) -> None:
    import inspect

    from airflow.sdk.io import get_fs, has_fs

    from craft_airflow import filesystem
    from craft_airflow.get_provider_info import get_provider_info

    assert get_provider_info()["filesystems"] == ["craft_airflow.filesystem"]
    assert filesystem.schemes == ["craft"]
    assert list(inspect.signature(filesystem.get_fs).parameters) == ["conn_id", "storage_options"]
    assert has_fs("craft")
    fs = get_fs("craft", CONN)
    assert isinstance(fs, filesystem.CraftFileSystem)
    assert fs.conn_id == CONN


def test_both_url_forms_name_the_same_object(conn: ScriptedServer) -> None:
    from airflow.sdk import ObjectStoragePath

    a = ObjectStoragePath("craft://craft_ai_default@/some/path/file.txt")
    b = ObjectStoragePath("craft:///some/path/file.txt", conn_id="craft_ai_default")
    c = ObjectStoragePath("craft://craft_ai_default@some/path/file.txt")
    for path in (a, b, c):
        assert path_conn_id(path) == "craft_ai_default"
        assert path.path == "/some/path/file.txt"
        assert str(path) == "craft://craft_ai_default@/some/path/file.txt"
    assert a == b == c
    assert str(a.parent / "other.txt") == "craft://craft_ai_default@/some/path/other.txt"
    assert a.name == "file.txt"
    assert ObjectStoragePath(str(a)) == a


def test_path_round_trips_through_xcom_serialization(conn: ScriptedServer) -> None:
    from airflow.sdk import ObjectStoragePath
    from airflow_compat import serde

    serialize, deserialize = serde()

    path = ObjectStoragePath("craft://craft_ai_default@/folder/data.csv")
    back = deserialize(json.loads(json.dumps(serialize(path))))
    assert isinstance(back, ObjectStoragePath)
    assert back == path
    assert path_conn_id(back) == "craft_ai_default"
    # the URI string (what Craft tasks put in XCom) gives the same path back
    uri = deserialize(json.loads(json.dumps(serialize(str(path)))))
    assert ObjectStoragePath(uri) == path


# -- reading, writing, listing, stat, delete ------------------------------------------------


def test_write_then_read_stat_list_and_delete(root: Any, craft_platform: Any) -> None:
    target = root / "folder" / "data.bin"
    payload = os.urandom(300_000)
    assert not target.exists()
    with target.open("wb") as f:
        for start in range(0, len(payload), 70_000):
            f.write(payload[start : start + 70_000])
    key = target.path.lstrip("/")
    assert stored(craft_platform, key).read_bytes() == payload

    assert target.exists() and target.is_file() and not target.is_dir()
    assert target.read_bytes() == payload
    stat = target.stat()
    assert stat.st_size == len(payload)
    assert stat["type"] == "file"
    assert abs(stat.st_mtime - stored(craft_platform, key).stat().st_mtime) < 1
    assert stat["last_modified"].endswith("Z")

    (root / "top.txt").write_text("top")
    assert sorted(str(p) for p in root.iterdir()) == [str(root / "folder"), str(root / "top.txt")]
    assert (root / "folder").is_dir() and (root / "folder").stat()["type"] == "directory"
    assert [p.name for p in (root / "folder").iterdir()] == ["data.bin"]
    assert sorted(root.fs.find(root.path)) == [target.path, (root / "top.txt").path]

    target.unlink()
    assert not target.exists()
    assert not stored(craft_platform, key).exists()
    with pytest.raises(FileNotFoundError):
        target.unlink()
    target.unlink(missing_ok=True)


def test_reads_stream_by_range_requests(
    root: Any, craft_platform: Any, store: ScriptedServer
) -> None:
    from airflow.sdk import ObjectStoragePath

    payload = os.urandom(1_000_000)
    target = root / "ranges.bin"
    target.write_bytes(payload)
    path = ObjectStoragePath(str(target))
    store.requests.clear()
    with path.fs.open(path.path, "rb", block_size=256 * 1024) as f:
        assert f.read(10) == payload[:10]
        f.seek(900_000)
        assert f.read() == payload[900_000:]
    ranges = [r.headers.get("Range") for r in store.requests if r.method == "GET"]
    assert ranges and all(r and r.startswith("bytes=") for r in ranges)
    # only what was read (plus read-ahead) was fetched, never the whole object at once
    fetched = sum(int(b) - int(a) + 1 for a, b in (r[6:].split("-") for r in ranges if r))
    assert fetched < len(payload)


def test_copy_and_move_local_to_store_and_back(
    root: Any, tmp_path: Path, craft_platform: Any
) -> None:
    from airflow.sdk import ObjectStoragePath

    source = tmp_path / "report.csv"
    source.write_bytes(b"a,b\n1,2\n" * 1000)
    local = ObjectStoragePath(f"file://{source}")
    remote = root / "in" / "report.csv"
    local.copy(remote)
    assert remote.read_bytes() == source.read_bytes()

    back = ObjectStoragePath(f"file://{tmp_path}/back/report.csv")
    remote.copy(back)
    assert Path(back.path).read_bytes() == source.read_bytes()

    moved = root / "moved" / "report.csv"
    remote.move(moved)
    assert not remote.exists()
    assert moved.read_bytes() == source.read_bytes()

    # same store: copy is download + upload (the platform has no server-side copy)
    twin = root / "twin.csv"
    moved.copy(twin)
    assert twin.read_bytes() == source.read_bytes()

    # between two different stores: streamed file to file (memory -> craft -> memory)
    from airflow.sdk.io.store import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach("memory", fs=MemoryFileSystem())
    mem = ObjectStoragePath("memory:///craft-fs-test/blob.bin")
    mem.write_bytes(b"from memory")
    mem.copy(root / "from-memory.bin")
    assert (root / "from-memory.bin").read_bytes() == b"from memory"
    (root / "from-memory.bin").copy(ObjectStoragePath("memory:///craft-fs-test/back.bin"))
    assert ObjectStoragePath("memory:///craft-fs-test/back.bin").read_bytes() == b"from memory"


def test_a_failed_write_uploads_nothing(root: Any) -> None:
    target = root / "never.bin"
    with pytest.raises(RuntimeError), target.open("wb") as f:
        f.write(b"partial")
        raise RuntimeError("the producer failed")
    assert not target.exists()


def test_empty_object(root: Any) -> None:
    target = root / "empty"
    target.write_bytes(b"")
    assert target.exists()
    assert target.stat().st_size == 0
    assert target.read_bytes() == b""


def test_recursive_delete_and_folder_rules(root: Any) -> None:
    for name in ("a/1.txt", "a/b/2.txt", "c.txt"):
        (root / name).write_text(name)
    folder = root / "a"
    with pytest.raises(IsADirectoryError, match="recursive=True"):
        folder.fs.rm(folder.path)
    folder.fs.rm(folder.path, recursive=True)
    assert not folder.exists()
    assert [p.name for p in root.iterdir()] == ["c.txt"]


# -- bad input: clear errors -----------------------------------------------------------------


def test_reading_a_folder_says_it_expected_a_file(root: Any) -> None:
    (root / "dir" / "x.txt").write_text("x")
    with pytest.raises(IsADirectoryError, match=r"is a folder of the data store; expected a file"):
        (root / "dir").read_bytes()


def test_missing_object(root: Any) -> None:
    with pytest.raises(FileNotFoundError, match="no such object or folder in the data store"):
        (root / "missing.txt").read_bytes()
    with pytest.raises(FileNotFoundError):
        (root / "missing.txt").stat()


def test_unknown_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.errors import CraftConfigError

    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_CONN", raising=False)
    path = ObjectStoragePath("craft://no_such_conn@/x.txt")
    with pytest.raises(
        CraftConfigError,
        match=r"craft://no_such_conn@/… paths: Connection 'no_such_conn'.*not defined",
    ):
        path.exists()


def test_connection_without_sdk_token(monkeypatch: pytest.MonkeyPatch, craft_platform: Any) -> None:
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.errors import CraftConfigError

    set_conn(monkeypatch, craft_platform.url, None, conn_id="craft_no_token")
    with pytest.raises(CraftConfigError, match=r"'craft_no_token' has no SDK token.*data store"):
        ObjectStoragePath("craft://craft_no_token@/x.txt").read_bytes()


def test_bad_storage_option() -> None:
    from craft_airflow.errors import CraftConfigError
    from craft_airflow.filesystem import CraftFileSystem

    with pytest.raises(CraftConfigError, match="block_size"):
        CraftFileSystem(block_size=0)
    with pytest.raises(CraftConfigError, match=r"unknown option\(s\) 'region'"):
        CraftFileSystem(region="eu")


def test_append_mode_is_refused(root: Any) -> None:
    with pytest.raises(ValueError, match=r"mode 'ab' is not supported.*'rb', 'wb' or 'xb'"):
        root.fs.open((root / "x").path, "ab")


# -- secrets -----------------------------------------------------------------------------------


def test_tokens_never_in_repr_logs_or_errors(
    root: Any, conn: ScriptedServer, store: ScriptedServer, craft_platform: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    target = root / "secret-check.txt"
    target.write_text("x")
    assert target.read_text() == "x"
    texts = [repr(target), str(target), repr(target.fs), str(target.fs), repr(target.stat())]
    # errors: one from the presigned store, one from the platform
    store.on("GET", r"/_local/data-store/object", reply(500, b"<Error><Code>Boom</Code></Error>"))
    conn.on("POST", r"/api/v1/data-store/information", reply(400, {"message": "refused"}))
    for failing in (
        lambda: target.fs.hook.download(target.path, io.BytesIO()),
        lambda: target.stat(),
    ):
        with pytest.raises(Exception) as caught:
            failing()
        texts.append(f"{caught.value!r} {caught.value}")
    access_tokens = {
        r.headers["Authorization"].split()[-1]
        for r in conn.requests
        if "Authorization" in r.headers
    }
    assert access_tokens
    haystack = "\n".join(texts + [r.getMessage() for r in caplog.records])
    assert "Boom" in haystack and "refused" in haystack
    for secret in (craft_platform.sdk_token, *access_tokens):
        assert secret not in haystack


def test_presigned_urls_get_no_authorization(
    root: Any, store: ScriptedServer, conn: ScriptedServer
) -> None:
    target = root / "auth-check.bin"
    target.write_bytes(b"payload")
    assert target.read_bytes() == b"payload"
    transfers = [r for r in store.requests if r.path.startswith("/_local/data-store/")]
    assert {r.method for r in transfers} == {"POST", "GET"}
    assert all(
        "Authorization" not in r.headers and "authorization" not in r.headers for r in transfers
    )
    platform_calls = [r for r in conn.requests if r.path.startswith("/api/v1/data-store/")]
    assert platform_calls and all(
        r.headers.get("Authorization", "").startswith("Bearer ") for r in platform_calls
    )


def test_retries_like_the_hooks(root: Any, conn: ScriptedServer, store: ScriptedServer) -> None:
    target = root / "retried.bin"
    conn.on(
        "GET", r"/api/v1/data-store/upload$", reply(503, {"message": "busy"}, {"Retry-After": "0"})
    )
    store.on(
        "POST",
        r"/_local/data-store/upload",
        reply(503, b"<Error><Code>SlowDown</Code></Error>", {"Retry-After": "0"}),
    )
    target.write_bytes(b"after retries")
    assert target.read_bytes() == b"after retries"
    assert conn.count("GET", r"/api/v1/data-store/upload$") == 2
    assert store.count("POST", r"/_local/data-store/upload") == 2


# -- craft paths in run mappings ---------------------------------------------------------------


def test_mapping_datastore_paths_accept_craft_paths() -> None:
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.filesystem import datastore_key, datastore_keys_in
    from craft_airflow.inputs.mappings import InputSource, OutputDestination

    path = ObjectStoragePath("craft://craft_ai_default@/inputs/doc.txt")
    assert datastore_key(path, CONN) == "inputs/doc.txt"
    assert datastore_key(str(path), CONN) == "inputs/doc.txt"
    assert datastore_key("craft:///inputs/doc.txt", CONN) == "inputs/doc.txt"
    assert datastore_key("plain/path.txt", CONN) == "plain/path.txt"
    mapping = datastore_keys_in(
        [
            InputSource(pipeline_input_name="document", datastore_path=path),
            {"pipeline_input_name": "other", "datastore_path": str(path)},
            {"pipeline_input_name": "env", "environment_variable_name": "X"},
        ],
        CONN,
        "inputs_mapping",
    )
    assert mapping[0] == InputSource(
        pipeline_input_name="document", datastore_path="inputs/doc.txt"
    )
    assert mapping[1]["datastore_path"] == "inputs/doc.txt"
    assert mapping[2] == {"pipeline_input_name": "env", "environment_variable_name": "X"}
    out = datastore_keys_in(
        [
            OutputDestination(
                pipeline_output_name="upper", datastore_path="craft:///out/{execution_id}"
            )
        ],
        CONN,
        "outputs_mapping",
    )
    assert out[0].datastore_path == "out/{execution_id}"


def test_mapping_rejects_another_connections_path() -> None:
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.errors import CraftInputError
    from craft_airflow.filesystem import datastore_keys_in
    from craft_airflow.inputs.mappings import InputSource

    other = ObjectStoragePath("craft://craft_other_env@/inputs/doc.txt")
    with pytest.raises(
        CraftInputError,
        match=r"inputs_mapping\[0\]\.datastore_path: .* connection 'craft_other_env', but the run"
        r" uses connection 'craft_ai_default'",
    ):
        datastore_keys_in(
            [InputSource(pipeline_input_name="d", datastore_path=other)], CONN, "inputs_mapping"
        )
    with pytest.raises(CraftInputError, match=r"expected a data-store path \(str\) or a craft://"):
        datastore_keys_in(
            [{"pipeline_input_name": "d", "datastore_path": ObjectStoragePath("file:///tmp/x")}],
            CONN,
            "inputs_mapping",
        )
    with pytest.raises(CraftInputError, match="root; expected a file"):
        datastore_keys_in(
            [{"pipeline_input_name": "d", "datastore_path": "craft://craft_ai_default@/"}],
            CONN,
            "m",
        )


# -- wire format: the same data-store calls as the official SDK --------------------------------


def _body(recorded: Recorded) -> tuple[str, Any]:
    """``(media type, decoded body)``: JSON parsed, forms as dicts, multipart as
    ``[(name, value)]`` with the file part's bytes."""
    from email.parser import BytesParser
    from urllib.parse import parse_qs

    content_type = {k.lower(): v for k, v in recorded.headers.items()}.get("content-type", "")
    media = content_type.split(";")[0].strip()
    if not recorded.body:
        return media, None
    if media == "application/json":
        return media, json.loads(recorded.body)
    if media == "application/x-www-form-urlencoded":
        return media, parse_qs(recorded.body.decode())
    if media == "multipart/form-data":
        message = BytesParser().parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + recorded.body
        )
        parts = []
        for part in message.get_payload():
            name = part.get_param("name", header="content-disposition")
            value = part.get_payload(decode=True)
            # presigned fields differ per URL (expiry, signature); names, order, key and file do not
            parts.append((name, value if name in ("key", "file") else "<presigned>"))
        return media, parts
    return media, recorded.body


def _wire(requests: list[Recorded]) -> list[tuple[Any, ...]]:
    """Data-store calls as ``(method, path, query, media type, body, has Authorization)``."""
    calls = []
    for r in requests:
        if "data-store" not in r.path:
            continue
        query = {k: v for k, v in r.query.items() if k not in ("expires", "signature")}
        media, body = _body(r)
        auth = any(k.lower() == "authorization" for k in r.headers)
        calls.append((r.method, r.path, query, media, body, auth))
    return calls


def test_data_store_calls_match_the_official_sdk(
    root: Any, conn: ScriptedServer, store: ScriptedServer, craft_platform: Any, tmp_path: Path
) -> None:
    from airflow.sdk import ObjectStoragePath
    from craft_ai_sdk import CraftAiSdk

    key = "wire/format/object.bin"
    source = tmp_path / "object.bin"
    source.write_bytes(os.urandom(50_000))
    sdk = CraftAiSdk(
        sdk_token=craft_platform.sdk_token,
        environment_url=conn.url,
        control_url=conn.url,
        verbose_log=False,
    )
    remote = ObjectStoragePath(f"craft://{CONN}@/{key}")

    def record(action: Any) -> list[tuple[Any, ...]]:
        conn.requests.clear()
        store.requests.clear()
        action()
        return _wire(conn.requests + store.requests)

    def only(calls: list[tuple[Any, ...]], method: str, suffix: str) -> list[tuple[Any, ...]]:
        return [c for c in calls if c[0] == method and c[1].endswith(suffix)]

    ours_up = record(lambda: ObjectStoragePath(f"file://{source}").copy(remote))
    sdk_up = record(lambda: sdk.upload_data_store_object(str(source), key))
    for method, suffix in (("GET", "/data-store/upload"), ("POST", "/_local/data-store/upload")):
        assert only(ours_up, method, suffix) == only(sdk_up, method, suffix), suffix
        assert len(only(ours_up, method, suffix)) == 1
    (upload,) = only(ours_up, "POST", "/_local/data-store/upload")
    assert upload[4][-1] == ("file", source.read_bytes())
    assert upload[5] is False  # no Authorization to the presigned URL

    ours_info = record(lambda: remote.stat())
    sdk_info = record(lambda: sdk.get_data_store_object_information(key))
    assert only(ours_info, "POST", "/information") == only(sdk_info, "POST", "/information")
    assert only(ours_info, "POST", "/information")[0][3:5] == (
        "application/json",
        {"path_to_object": key},
    )

    ours_list = record(lambda: remote.fs.ls("/wire/format"))
    sdk_list = record(lambda: sdk.list_data_store_objects("wire/format"))
    assert only(ours_list, "GET", "/data-store/list") == only(sdk_list, "GET", "/data-store/list")

    ours_down = record(lambda: remote.copy(ObjectStoragePath(f"file://{tmp_path}/ours.bin")))
    sdk_down = record(lambda: sdk.download_data_store_object(key, str(tmp_path / "sdk.bin")))
    for method, suffix in (("POST", "/data-store/download"), ("GET", "/_local/data-store/object")):
        assert only(ours_down, method, suffix) == only(sdk_down, method, suffix), suffix
        assert len(only(ours_down, method, suffix)) == 1
    assert (tmp_path / "ours.bin").read_bytes() == (tmp_path / "sdk.bin").read_bytes()

    ours_delete = record(lambda: remote.unlink())
    remote.write_bytes(b"again")
    sdk_delete = record(lambda: sdk.delete_data_store_object(key))
    assert only(ours_delete, "DELETE", "/delete") == only(sdk_delete, "DELETE", "/delete")
    assert only(ours_delete, "DELETE", "/delete")[0][3:] == (
        "application/x-www-form-urlencoded",
        {"path_to_object": [key]},
        True,
    )
    assert not remote.exists()
