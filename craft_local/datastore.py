"""A minimal local data store (§8): files under ``data_dir/datastore``, presigned URLs.

The API hands out URLs on this same server, signed with an HMAC and valid for an hour,
standing in for the S3 presigned URLs of the real platform. Multipart uploads (objects of
100 MB and more, which the SDK sends in parts) are not supported.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from craft_local.auth import tokens_equal
from craft_local.mappings import datastore_file
from craft_local.store import now_iso

URL_LIFETIME = 3600


class DataStore:
    """Objects of the local data store.

    :param root: folder holding the objects.
    :param secret: key signing the presigned URLs.
    """

    def __init__(self, root: Path, secret: bytes) -> None:
        self.root = root
        self._key = hmac.new(secret, b"craft-local data store", hashlib.sha256).digest()

    def path(self, object_path: str) -> Path:
        """The file of an object; a 400 for paths with ``..`` or no name."""
        return datastore_file(self.root, object_path)

    def info(self, object_path: str) -> dict[str, Any] | None:
        """``{path, last_modified, size}`` of an object, ``None`` if there is none."""
        file = self.path(object_path)
        if not file.is_file():
            return None
        stat = file.stat()
        return {
            "path": file.relative_to(self.root).as_posix(),
            "last_modified": now_iso(stat.st_mtime),
            "size": stat.st_size,
        }

    def list(self, folder: str | None) -> list[dict[str, Any]]:
        """Information on every object under ``folder`` (the whole store when empty)."""
        base = self.path(folder) if folder and folder.strip("/") else self.root
        if not base.is_dir():
            return []
        items = []
        for file in sorted(p for p in base.rglob("*") if p.is_file()):
            info = self.info(file.relative_to(self.root).as_posix())
            if info is not None:
                items.append(info)
        return items

    def sign(self, action: str, object_path: str, expires: int) -> str:
        """The HMAC signature of a presigned ``upload``/``download`` of ``object_path``."""
        message = f"{action}\n{object_path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def presigned_fields(self, action: str, object_path: str) -> dict[str, str]:
        """``key``, ``expires`` and ``signature`` of a presigned request, valid for an hour.

        :param action: ``upload`` or ``download``.
        :param object_path: the object's path in the data store.
        """
        self.path(object_path)  # refuse bad paths before handing out a URL
        expires = int(time.time()) + URL_LIFETIME
        return {
            "key": object_path,
            "expires": str(expires),
            "signature": self.sign(action, object_path, expires),
        }

    def download_query(self, object_path: str) -> str:
        """The query string of a presigned download URL of ``object_path``."""
        return urlencode(self.presigned_fields("download", object_path))

    def check(self, action: str, fields: dict[str, Any]) -> str:
        """Return the object path of a valid presigned request, else raise ``PermissionError``."""
        key, expires, signature = fields.get("key"), fields.get("expires"), fields.get("signature")
        # isascii: str.isdigit() also accepts digits int() refuses, such as "²".
        if not (
            isinstance(key, str)
            and isinstance(expires, str)
            and expires.isascii()
            and expires.isdigit()
        ):
            raise PermissionError("missing or malformed presigned fields")
        if int(expires) < time.time():
            raise PermissionError("the presigned URL has expired")
        if not tokens_equal(str(signature), self.sign(action, key, int(expires))):
            raise PermissionError("the signature does not match")
        return key
