"""The Craft AI data store as an fsspec filesystem (scheme ``craft``), for ``ObjectStoragePath``.

``ObjectStoragePath("craft://craft_ai_default@/folder/file.csv")`` (or
``ObjectStoragePath("craft:///folder/file.csv", conn_id="craft_ai_default")``) is the object
``folder/file.csv`` of the data store of the environment the ``craftai`` connection points at.
Airflow finds this module through the provider info's ``filesystems`` (``schemes`` and
``get_fs``); fsspec and universal-pathlib find the classes through their entry points.

The data store holds objects under flat keys: a "directory" is a key prefix, exists while an
object lives under it, and needs no creating. Every call goes through
:class:`~craft_airflow.hooks.datastore.CraftDataStoreHook` (the connection's SDK token, the
hooks' retries and redaction). Bytes are streamed: reads are ``Range`` requests of
``block_size`` bytes on the presigned URL, writes are spooled to a temporary file and uploaded,
streamed, on close; nothing holds a whole object in memory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from fsspec.utils import stringify_path
from upath import UPath

from craft_airflow.errors import CraftConfigError, CraftInputError
from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.protocol.datastore import DataStoreObject, object_key

if TYPE_CHECKING:
    from craft_airflow.hooks.datastore import CraftDataStoreHook

#: The URI scheme of data-store paths: ``craft://<conn_id>@/<path>``.
PROTOCOL = "craft"
#: Read by Airflow (``airflow.sdk.io.fs``) with :func:`get_fs`.
schemes = [PROTOCOL]

#: Bytes fetched per ``Range`` request, and buffered before a write goes to the spool file.
DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024


def get_fs(conn_id: str | None, storage_options: dict[str, Any] | None = None) -> CraftFileSystem:
    """The data store of connection ``conn_id`` (``craft_ai_default`` when ``None``).

    :param conn_id: an Airflow connection of type ``craftai`` with an SDK token.
    :param storage_options: ``block_size`` (bytes per read request) is the one option.

    The connection is read at the first call, not here: ``ObjectStoragePath`` builds its
    filesystem while constructing a path, and hides errors raised then.
    """
    return CraftFileSystem(conn_id=conn_id or DEFAULT_CONN_ID, **(storage_options or {}))


def _info(name: str, obj: DataStoreObject | None = None) -> dict[str, Any]:
    if obj is None:
        return {"name": name, "size": 0, "type": "directory"}
    return {
        "name": name,
        "size": obj.size,
        "type": "file",
        "last_modified": obj.last_modified,
        "mtime": obj.mtime,
    }


class CraftFileSystem(AbstractFileSystem):
    """fsspec filesystem over one environment's data store.

    :param conn_id: the ``craftai`` connection naming the environment (and its SDK token).
    :param block_size: bytes per ``Range`` request when reading.
    """

    protocol = PROTOCOL
    root_marker = "/"
    # One instance per ObjectStoragePath store (Airflow caches those): no fsspec-level cache
    # that would outlive a changed connection.
    cachable = False

    def __init__(
        self, conn_id: str = DEFAULT_CONN_ID, block_size: int | None = None, **kwargs: Any
    ) -> None:
        unknown = sorted(set(kwargs) - {"skip_instance_cache", "use_listings_cache"})
        if unknown:
            raise CraftConfigError(
                f"craft:// storage options: unknown option(s) {', '.join(map(repr, unknown))}; "
                "expected only 'block_size' (bytes per read request)"
            )
        if block_size is not None and (
            not isinstance(block_size, int) or isinstance(block_size, bool) or block_size <= 0
        ):
            raise CraftConfigError(
                f"craft:// storage option 'block_size': expected a positive number of bytes, "
                f"got {block_size!r}"
            )
        super().__init__(conn_id=conn_id, block_size=block_size)
        self.conn_id = conn_id
        self.blocksize = block_size or DEFAULT_BLOCK_SIZE

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    __str__ = __repr__

    @property
    def fsid(self) -> str:
        return f"{PROTOCOL}-{self.conn_id}"

    @cached_property
    def hook(self) -> CraftDataStoreHook:
        """The hook performing the calls, created on first use from a valid connection.

        :raises CraftConfigError: the connection is unknown, invalid or has no SDK token.
        """
        from craft_airflow.hooks.datastore import CraftDataStoreHook

        hook = CraftDataStoreHook(craft_conn_id=self.conn_id)
        try:
            config = hook.config
        except CraftConfigError as exc:
            raise CraftConfigError(f"{PROTOCOL}://{self.conn_id}@/… paths: {exc}") from None
        if not config.sdk_token:
            raise CraftConfigError(
                f"Connection {self.conn_id!r} has no SDK token (password field): the Craft data "
                "store (craft:// paths) needs one; endpoint tokens do not give access to it"
            )
        return hook

    # -- paths ----------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        """``craft://conn@/a/b``, ``craft:///a/b``, ``/a/b/`` and ``a/b`` all give ``/a/b``."""
        if isinstance(path, list | tuple):
            return [cls._strip_protocol(p) for p in path]
        text = stringify_path(path)
        if text.startswith(f"{PROTOCOL}://"):
            text = text[len(PROTOCOL) + 3 :]
            head, slash, tail = text.partition("/")
            # userinfo is the connection id: it is not part of the path
            text = head.rpartition("@")[2] + slash + tail
        elif text.startswith(f"{PROTOCOL}::"):
            text = text[len(PROTOCOL) + 2 :]
        parts = [p for p in text.split("/") if p]
        return "/" + "/".join(parts)

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        """The connection id of ``craft://<conn_id>@/…`` (for ``fsspec.open`` and friends)."""
        if path.startswith(f"{PROTOCOL}://"):
            head = path[len(PROTOCOL) + 3 :].partition("/")[0]
            userinfo, at, _ = head.rpartition("@")
            if at and userinfo:
                return {"conn_id": userinfo}
        return {}

    def unstrip_protocol(self, name: str) -> str:
        return f"{PROTOCOL}://{self.conn_id}@{self._strip_protocol(name)}"

    def _uri(self, path: str) -> str:
        return self.unstrip_protocol(path)

    # -- listing and information --------------------------------------------------------

    def _objects_under(self, key: str) -> Iterator[DataStoreObject]:
        """Objects strictly below the folder ``key`` (a store may list by plain prefix), page
        by page: asking for the first one reads one page only."""
        prefix = f"{key}/" if key else ""
        return (o for o in self.hook.list_objects(key) if o.path.startswith(prefix))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """The files and sub-folders directly in folder ``path`` (a file lists as itself)."""
        key = object_key(self._strip_protocol(path))
        entries: dict[str, dict[str, Any]] = {}
        for obj in self._objects_under(key):
            rel = obj.path[len(key) + 1 :] if key else obj.path
            first, _, rest = rel.partition("/")
            name = "/" + posixpath.join(key, first) if key else "/" + first
            if rest:
                entries.setdefault(name, _info(name))
            else:
                entries[name] = _info(name, obj)
        if not entries and key:
            info = self.info(path)  # a file lists as itself; FileNotFoundError otherwise
            entries[info["name"]] = info
        listing = [entries[name] for name in sorted(entries)]
        return listing if detail else [entry["name"] for entry in listing]

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Every file under ``path``, from one (paged) listing rather than one per folder."""
        if maxdepth is not None or withdirs:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail)
        key = object_key(self._strip_protocol(path))
        found = {"/" + o.path: _info("/" + o.path, o) for o in self._objects_under(key)}
        if not found and key:
            with contextlib.suppress(FileNotFoundError):
                info = self.info(path)
                if info["type"] == "file":
                    found[info["name"]] = info
        names = sorted(found)
        return {n: found[n] for n in names} if detail else names

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """``name``, ``size`` (bytes), ``type`` (``file``/``directory``), ``last_modified``
        (ISO-8601 text) and ``mtime`` (POSIX seconds) of ``path``.

        :raises FileNotFoundError: no object at ``path`` and none below it.
        """
        name = self._strip_protocol(path)
        key = object_key(name)
        if not key:
            return _info("/")
        obj = self.hook.object_info(key)
        if obj is not None:
            return _info(name, obj)
        if next(self._objects_under(key), None) is not None:
            return _info(name)
        raise FileNotFoundError(f"{self._uri(name)}: no such object or folder in the data store")

    def exists(self, path: str, **kwargs: Any) -> bool:
        """Whether ``path`` is an object or a folder; connection and auth errors are raised,
        not answered ``False``."""
        try:
            self.info(path)
        except FileNotFoundError:
            return False
        return True

    def isfile(self, path: str) -> bool:
        """Whether ``path`` is an object; connection and auth errors are raised."""
        try:
            return bool(self.info(path)["type"] == "file")
        except FileNotFoundError:
            return False

    def isdir(self, path: str) -> bool:
        """Whether ``path`` is a folder (objects live below it); errors are raised."""
        try:
            return bool(self.info(path)["type"] == "directory")
        except FileNotFoundError:
            return False

    def modified(self, path: str) -> datetime:
        info = self.info(path)
        if info["type"] != "file" or info.get("mtime") is None:
            raise IsADirectoryError(f"{self._uri(path)}: a folder has no modification time")
        return datetime.fromtimestamp(info["mtime"], UTC)

    def _expect_file(self, path: str) -> dict[str, Any]:
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(
                f"{self._uri(path)} is a folder of the data store; expected a file"
            )
        return info

    # -- folders (prefixes: nothing to create or remove) ----------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Nothing to do: a folder exists as soon as an object is written below it."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Nothing to do (see :meth:`mkdir`)."""

    def rmdir(self, path: str) -> None:
        """Nothing to do: a folder disappears with its last object."""

    # -- bytes -----------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AbstractBufferedFile:
        path = self._strip_protocol(path)
        if mode == "rb":
            size = self._expect_file(path)["size"]
            return CraftReadFile(
                self,
                path,
                mode,
                block_size or self.blocksize,
                size=size,
                cache_options=cache_options,
            )
        if mode in ("wb", "xb"):
            if mode == "xb" and self.exists(path):
                raise FileExistsError(f"{self._uri(path)} already exists")
            return CraftWriteFile(self, path, "wb", block_size or self.blocksize)
        raise ValueError(
            f"{self._uri(path)}: mode {mode!r} is not supported by the data store; expected "
            "'rb', 'wb' or 'xb' (objects cannot be appended to)"
        )

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        with self.open(path, "rb") as f:
            if start is not None:
                f.seek(start if start >= 0 else max(f.size + start, 0))
            length = None
            if end is not None:
                stop = end if end >= 0 else f.size + end
                length = max(stop - f.tell(), 0)
            data: bytes = f.read(length)
            return data

    def put_file(
        self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        """Upload a local file straight from disk (no spool copy)."""
        if os.path.isdir(lpath):
            return
        rpath = self._strip_protocol(rpath)
        if mode == "create" and self.exists(rpath):
            raise FileExistsError(f"{self._uri(rpath)} already exists")
        with open(lpath, "rb") as source:
            self.hook.upload(rpath, source, filename=os.path.basename(lpath))

    def get_file(
        self, rpath: str, lpath: str, callback: Any = None, outfile: Any = None, **kwargs: Any
    ) -> None:
        """Download an object to a local file with one streamed ``GET``."""
        rpath = self._strip_protocol(rpath)
        if self.info(rpath)["type"] == "directory":
            if outfile is None:
                os.makedirs(lpath, exist_ok=True)
            return
        if outfile is not None:
            self.hook.download(rpath, outfile)
            return
        os.makedirs(os.path.dirname(os.path.abspath(lpath)), exist_ok=True)
        try:
            with open(lpath, "wb") as sink:
                self.hook.download(rpath, sink)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(lpath)
            raise

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy one object: one streamed download into a spool file, then one upload (the
        platform has no server-side copy)."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        self._expect_file(path1)
        with tempfile.TemporaryFile(prefix="craft-copy-") as spool:
            self.hook.download(path1, spool)
            spool.seek(0)
            self.hook.upload(path2, spool, filename=posixpath.basename(path2))

    def rm_file(self, path: str) -> None:
        self.hook.delete(self._strip_protocol(path))

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete objects; a folder only with ``recursive=True`` (every object below it)."""
        for one in path if isinstance(path, list | tuple) else [path]:
            name = self._strip_protocol(one)
            if self.info(name)["type"] == "file":
                self.rm_file(name)
                continue
            if not recursive:
                raise IsADirectoryError(
                    f"{self._uri(name)} is a folder of the data store; pass recursive=True to "
                    "delete every object below it"
                )
            for file in self.find(name, maxdepth=maxdepth):
                self.rm_file(file)


class CraftReadFile(AbstractBufferedFile):
    """A data-store object read by ``Range`` requests of ``blocksize`` bytes."""

    fs: CraftFileSystem

    def _fetch_range(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if start >= end:
            return b""
        return self.fs.hook.read_range(self.path, start, end)


class CraftWriteFile(AbstractBufferedFile):
    """A data-store object being written: buffered up to ``blocksize``, spooled to an unnamed
    temporary file, uploaded (streamed from it) on close. Leaving a ``with`` block on an
    exception uploads nothing."""

    fs: CraftFileSystem
    _spool: Any = None
    buffer: Any

    def _initiate_upload(self) -> None:
        # Closed by _upload_chunk(final=True) or discard().
        self._spool = tempfile.TemporaryFile(prefix="craft-upload-")  # noqa: SIM115

    def _upload_chunk(self, final: bool = False) -> bool:
        self.buffer.seek(0)
        shutil.copyfileobj(self.buffer, self._spool)
        if final:
            try:
                self._spool.seek(0)
                self.fs.hook.upload(self.path, self._spool, filename=posixpath.basename(self.path))
            finally:
                self._discard_spool()
        return True

    def _discard_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def discard(self) -> None:
        """Close without uploading."""
        self._discard_spool()
        self.buffer = None
        self.forced = True
        self.closed = True

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()


# -- craft paths in run mappings ------------------------------------------------------------


def path_conn_id(path: UPath) -> str | None:
    """The connection id of an ``ObjectStoragePath``: an attribute on Airflow 3.3, a storage
    option on Airflow 3.1."""
    return getattr(path, "conn_id", None) or path.storage_options.get("conn_id")


def datastore_key(value: Any, conn_id: str, where: str = "datastore_path") -> Any:
    """The plain data-store path of a ``craft://`` path or URI, else ``value`` unchanged.

    :param value: an ``ObjectStoragePath``, a ``craft://<conn_id>@/<path>`` URI or a plain
        data-store path.
    :param conn_id: the connection of the run: a craft path must name the same one (a path
        without one means ``craft_ai_default``, as for ``ObjectStoragePath``).
    :param where: the field, for messages.
    :raises CraftInputError: another connection's path, a path of another scheme, or the root.
    """
    if isinstance(value, UPath):
        protocol = value.protocol
        if protocol != PROTOCOL:
            raise CraftInputError(
                f"{where}: expected a data-store path (str) or a {PROTOCOL}:// path, got a "
                f"{protocol or 'local'}:// path {str(value)!r}"
            )
        path_conn = path_conn_id(value) or DEFAULT_CONN_ID
        text = value.path
    elif isinstance(value, str) and value.startswith(f"{PROTOCOL}:"):
        path_conn = CraftFileSystem._get_kwargs_from_urls(value).get("conn_id") or DEFAULT_CONN_ID
        text = value
    else:
        return value
    if path_conn != conn_id:
        raise CraftInputError(
            f"{where}: {str(value)!r} is in the data store of connection {path_conn!r}, but the "
            f"run uses connection {conn_id!r}; expected a {PROTOCOL}://{conn_id}@/… path (each "
            "environment has its own data store)"
        )
    key = object_key(CraftFileSystem._strip_protocol(text))
    if not key:
        raise CraftInputError(f"{where}: {str(value)!r} is the data store's root; expected a file")
    return key


def datastore_keys_in(mapping: Any, conn_id: str, label: str) -> Any:
    """``mapping`` (a list of InputSource/OutputDestination or dicts) with each craft
    ``datastore_path`` turned into its plain path (see :func:`datastore_key`); anything else
    is returned as is, for the mapping's own validation to judge."""
    if not isinstance(mapping, list | tuple):
        return mapping
    result: list[Any] = []
    for index, item in enumerate(mapping):
        where = f"{label}[{index}].datastore_path"
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            value = getattr(item, "datastore_path", None)
            key = datastore_key(value, conn_id, where)
            item = item if key is value else dataclasses.replace(item, datastore_path=key)
        elif isinstance(item, dict) and "datastore_path" in item:
            key = datastore_key(item["datastore_path"], conn_id, where)
            item = item if key is item["datastore_path"] else {**item, "datastore_path": key}
        result.append(item)
    return result


class CraftPath(UPath):
    """The universal-pathlib class of ``craft://`` paths (``ObjectStoragePath`` wraps it)."""

    __slots__ = ()

    @property
    def path(self) -> str:
        path: str = CraftFileSystem._strip_protocol(super().path)
        return path


def _register_with_fsspec() -> None:
    """Make the class itself known to fsspec (the entry point only names it), so that
    universal-pathlib parses ``craft://`` paths with its rules from the first path on."""
    from fsspec import register_implementation

    register_implementation(PROTOCOL, CraftFileSystem, clobber=True)


_register_with_fsspec()
