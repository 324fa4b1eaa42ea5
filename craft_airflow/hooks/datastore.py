"""CraftDataStoreHook: the data-store calls (§8) over the sync hook's transport.

The same connection, token cache, retries and redaction as :class:`CraftAIHook`: only the
builders and readers of :mod:`craft_airflow.protocol.datastore` are new. Bytes are streamed:
an upload is read from a stream part by part, a download is written to a sink chunk by chunk
or read as one byte range.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import requests

from craft_airflow.errors import CraftAPIError, CraftConnectionError
from craft_airflow.hooks.craft import CHUNK_SIZE, CraftAIHook
from craft_airflow.hooks.deadlines import deadline
from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.protocol import datastore as ds
from craft_airflow.protocol.calls import perform
from craft_airflow.protocol.http import Response, transfer_too_slow

# A presigned URL's query is its credential: kept out of every message.
_QUERY = re.compile(r"\?[^\s'\"<>)]*")

#: Status of an expired or refused presigned URL; a fresh URL is asked for once.
_PRESIGNED_REFUSED = 403
#: Presigned download URLs kept (the oldest is dropped first).
_KEPT_URLS = 128


class CraftDataStoreHook(CraftAIHook):
    """List, stat, upload, download and delete objects of a Craft AI environment's data store.

    :param craft_conn_id: Airflow connection of type ``craftai`` (needs the SDK token).
    """

    hook_name = "Craft AI data store"

    def __init__(self, craft_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(craft_conn_id, **kwargs)
        self._signed_urls: dict[str, str] = {}

    def _detail(self, exc: BaseException) -> str:
        return _QUERY.sub("?…", super()._detail(exc))

    def list_objects(self, folder: str = "") -> Iterator[ds.DataStoreObject]:
        """Every object under ``folder`` (recursively; the whole store when empty), page by page."""
        token: str | None = None
        while True:
            data = self._json(ds.build_list_objects(self.config, folder, token))
            objects, token = ds.read_object_page(data)
            yield from objects
            if token is None:
                return

    def object_info(self, path: str) -> ds.DataStoreObject | None:
        """The object at ``path``, ``None`` when there is none (404)."""
        try:
            data = self._json(ds.build_object_info(self.config, path))
        except CraftAPIError as exc:
            if exc.status_code == 404:
                return None
            raise
        return ds.read_object(data)

    def upload(self, path: str, stream: BinaryIO, filename: str | None = None) -> None:
        """Upload ``stream`` (seekable, read from its current position) to ``path``, streamed.

        Objects of 100 MB or more take the multipart route on the platform, which this hook
        does not implement: the store's answer (e.g. ``EntityTooLarge``) is raised as is.
        """
        url, fields = ds.read_upload_target(self._json(ds.build_upload_url(self.config, path)))
        name = filename or ds.object_key(path).rsplit("/", 1)[-1] or "file"
        self._signed_urls.pop(ds.object_key(path), None)
        self._drive(perform(self._ctx, ds.build_presigned_upload(url, fields, name, stream, path)))
        self.log.info("Uploaded data store object %s", ds.object_key(path))

    def download_url(self, path: str) -> str:
        """A presigned URL of the object (a credential: never log it)."""
        data = self._json(ds.build_download_url(self.config, path))
        return ds.read_signed_url(data, "the download URL")

    def download(self, path: str, dest: BinaryIO) -> int:
        """Stream the whole object into ``dest`` (one ``GET``); return the bytes written."""
        response = self._presigned_get(path, None, None)
        return self._copy_body(response, path, dest, None)

    def read_range(self, path: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) of the object, by a ``Range`` request.

        The presigned URL is kept for the next ranges of the same object. A store that ignores
        ``Range`` (answers 200 with the whole object) is read through, discarding what comes
        before ``start``, so memory stays bounded by the range.
        """
        response = self._presigned_get(path, start, end)
        # BytesIO.getvalue() hands its buffer over: no second copy of the range.
        sink = io.BytesIO()
        skip = start if response.status == 200 else 0
        self._copy_body(response, path, sink, end - start, skip=skip)
        return sink.getvalue()

    def delete(self, path: str) -> None:
        """Delete the object at ``path``.

        :raises FileNotFoundError: there is no object at ``path``.
        """
        self._signed_urls.pop(ds.object_key(path), None)
        try:
            self._json(ds.build_delete_object(self.config, path))
        except CraftAPIError as exc:
            if exc.status_code == 404:
                raise FileNotFoundError(
                    f"no data store object at {ds.object_key(path)!r}"
                ) from None
            raise

    # -- streaming ----------------------------------------------------------------------------

    def _presigned_get(self, path: str, start: int | None, end: int | None) -> Response:
        """``GET`` the object's presigned URL (kept per object); a refused one (expired) is
        renewed once."""
        key = ds.object_key(path)
        for attempt in range(2):
            url = self._signed_urls.get(key) or self.download_url(path)
            if key not in self._signed_urls and len(self._signed_urls) >= _KEPT_URLS:
                del self._signed_urls[next(iter(self._signed_urls))]
            self._signed_urls[key] = url
            request = ds.build_presigned_download(url, path, start, end)
            try:
                return self._drive(perform(self._ctx, request))
            except CraftAPIError as exc:
                self._signed_urls.pop(key, None)
                if exc.status_code != _PRESIGNED_REFUSED or attempt:
                    raise
        raise AssertionError("unreachable")

    def _copy_body(
        self,
        response: Response,
        path: str,
        dest: Any,
        limit: int | None,
        *,
        skip: int = 0,
    ) -> int:
        raw = response.raw
        if raw is None:
            raise CraftAPIError(
                response.status,
                f"download data store object {ds.object_key(path)!r}: answered "
                f"{response.status} without a body",
            )
        written = 0
        operation = f"download data store object {ds.object_key(path)!r}"
        seconds = self.config.transfer_timeout
        with deadline(seconds, raw.raw.connection) as guard:
            try:
                for chunk in raw.iter_content(chunk_size=CHUNK_SIZE):
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    if limit is not None:
                        chunk = chunk[: limit - written]
                    if chunk:
                        dest.write(chunk)
                        written += len(chunk)
                    if limit is not None and written >= limit:
                        break
            except requests.RequestException as exc:
                if not guard.expired:
                    raise CraftConnectionError(
                        f"{operation} broke off after {written} bytes: "
                        f"{type(exc).__name__}: {_QUERY.sub('?…', str(exc))}"
                    ) from None
            finally:
                raw.close()
            if guard.expired:
                raise transfer_too_slow(operation, written, seconds)
        return written


__all__ = ["CraftDataStoreHook"]
