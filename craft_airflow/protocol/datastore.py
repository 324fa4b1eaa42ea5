"""The data-store calls (contract §8) as builders and readers, without I/O.

Platform calls carry the access token (Bearer); the transfers go to the presigned URLs those
calls hand out, which carry their own credentials: they are sent with ``AuthKind.NONE``, so the
``Authorization`` header never reaches the store (often another host). Object paths are sent
as the platform lists them: relative, without a leading ``/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from craft_airflow.errors import CraftAPIError
from craft_airflow.protocol.config import ClientConfig
from craft_airflow.protocol.http import (
    AuthKind,
    FileInput,
    HttpRequest,
    TimeoutKind,
    file_parts,
)


def object_key(path: str) -> str:
    """A data-store path as the platform takes it: no leading or trailing ``/``."""
    return path.strip("/")


def _ds_api(config: ClientConfig, action: str) -> str:
    return f"{config.environment_url}/api/v1/data-store/{action}"


def build_list_objects(
    config: ClientConfig, folder: str, continuation_token: str | None = None
) -> HttpRequest:
    """§8 list: every object under ``folder`` (the whole store when empty), one page."""
    params: list[tuple[str, str]] = []
    if object_key(folder):
        params.append(("folder_path", object_key(folder)))
    if continuation_token is not None:
        params.append(("continuation_token", continuation_token))
    return HttpRequest(
        "GET",
        _ds_api(config, "list"),
        params=tuple(params),
        operation=f"list data store folder {object_key(folder) or '/'!r}",
    )


def build_object_info(config: ClientConfig, path: str) -> HttpRequest:
    """§8 information: JSON ``{path_to_object}``; reading, so safe to repeat."""
    return HttpRequest(
        "POST",
        _ds_api(config, "information"),
        json={"path_to_object": object_key(path)},
        idempotent=True,
        operation=f"get data store object {object_key(path)!r}",
    )


def build_upload_url(config: ClientConfig, path: str) -> HttpRequest:
    """§8 upload (single part): ``GET …/upload?path_to_object=`` answers the presigned POST."""
    return HttpRequest(
        "GET",
        _ds_api(config, "upload"),
        params=(("path_to_object", object_key(path)),),
        operation=f"get an upload URL for data store object {object_key(path)!r}",
    )


def build_presigned_upload(
    url: str, fields: Mapping[str, str], filename: str, stream: BinaryIO, path: str
) -> HttpRequest:
    """The presigned POST: the ``fields`` first, then the part ``file`` (streamed from
    ``stream``'s current position). Writing the same object again is harmless: retried."""
    return HttpRequest(
        "POST",
        url,
        data=dict(fields),
        files=file_parts({"file": FileInput(filename, stream)}),
        auth=AuthKind.NONE,
        idempotent=True,
        timeout=TimeoutKind.DOWNLOAD,
        operation=f"upload data store object {object_key(path)!r}",
    )


def build_download_url(config: ClientConfig, path: str) -> HttpRequest:
    """§8 download: a **form** body ``path_to_object=`` answers ``{signed_url}``."""
    return HttpRequest(
        "POST",
        _ds_api(config, "download"),
        data={"path_to_object": object_key(path)},
        idempotent=True,
        operation=f"get a download URL for data store object {object_key(path)!r}",
    )


def build_presigned_download(
    url: str, path: str, start: int | None = None, end: int | None = None
) -> HttpRequest:
    """``GET`` the presigned URL, streamed; ``start``/``end`` (exclusive) ask for a byte range."""
    headers = {}
    if start is not None and end is not None:
        headers["Range"] = f"bytes={start}-{end - 1}"
    return HttpRequest(
        "GET",
        url,
        headers=headers,
        auth=AuthKind.NONE,
        stream=True,
        timeout=TimeoutKind.DOWNLOAD,
        operation=f"download data store object {object_key(path)!r}",
    )


def build_delete_object(config: ClientConfig, path: str) -> HttpRequest:
    """§8 delete: ``DELETE`` with a **form** body ``path_to_object=``. Deleting twice answers
    404 the second time, never deletes anything else: safe to repeat."""
    return HttpRequest(
        "DELETE",
        _ds_api(config, "delete"),
        data={"path_to_object": object_key(path)},
        idempotent=True,
        operation=f"delete data store object {object_key(path)!r}",
    )


# --- readers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DataStoreObject:
    """One object: its path (relative, as the platform gives it), size and modification time."""

    path: str
    size: int
    last_modified: str | None = None

    @property
    def mtime(self) -> float | None:
        """``last_modified`` as a POSIX timestamp, ``None`` when absent or unreadable."""
        if not self.last_modified:
            return None
        try:
            return datetime.fromisoformat(self.last_modified.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise CraftAPIError(None, f"Unexpected answer for {what}: expected a JSON object")
    return data


def read_object(data: Any, what: str = "a data store object") -> DataStoreObject:
    """``{path, last_modified, size}`` (size in bytes, a number or a numeric string)."""
    item = _mapping(data, what)
    path, size = item.get("path"), item.get("size")
    if isinstance(size, str) and size.isascii() and size.isdigit():
        size = int(size)
    if not isinstance(path, str) or not isinstance(size, int) or isinstance(size, bool):
        raise CraftAPIError(
            None, f"Unexpected answer for {what}: expected 'path' (string) and 'size' (bytes)"
        )
    modified = item.get("last_modified")
    return DataStoreObject(object_key(path), size, modified if isinstance(modified, str) else None)


def read_object_page(data: Any) -> tuple[list[DataStoreObject], str | None]:
    """One list page: its objects and the continuation token (``None`` on the last page)."""
    body = _mapping(data, "the data store list")
    items = body.get("items") or []
    if not isinstance(items, list):
        raise CraftAPIError(None, "Unexpected data store list: 'items' is not a list")
    token = body.get("continuation_token")
    objects = [read_object(item, "a data store list item") for item in items]
    return objects, token if isinstance(token, str) and token else None


def read_signed_url(data: Any, what: str) -> str:
    url = _mapping(data, what).get("signed_url")
    if not isinstance(url, str) or not url:
        raise CraftAPIError(None, f"Unexpected answer for {what}: no 'signed_url'")
    return url


def read_upload_target(data: Any) -> tuple[str, dict[str, str]]:
    """The presigned POST of an upload: its URL and the form ``fields`` to send with it."""
    url = read_signed_url(data, "the upload URL")
    fields = _mapping(data, "the upload URL").get("fields") or {}
    if not isinstance(fields, Mapping):
        raise CraftAPIError(None, "Unexpected answer for the upload URL: 'fields' is not an object")
    return url, {str(k): str(v) for k, v in fields.items()}
