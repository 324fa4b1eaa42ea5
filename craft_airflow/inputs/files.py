"""Opening file sources as :class:`~craft_airflow.protocol.http.FileInput` binary streams (never
read into memory): local paths, storage URIs, ``ObjectStoragePath``, bytes and binary streams."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote

from airflow.sdk import ObjectStoragePath

from craft_airflow.errors import CraftInputError

if TYPE_CHECKING:
    from craft_airflow.protocol.http import FileInput


def _file(filename: str, stream: BinaryIO) -> FileInput:
    # protocol/ is the transports' (loaded with the hook), not a DAG file's: imported here.
    from craft_airflow.protocol.http import FileInput

    return FileInput(filename, stream)


def is_binary_stream(value: Any) -> bool:
    """Whether ``value`` reads like a binary stream (anything with ``read`` but text streams)."""
    return hasattr(value, "read") and not isinstance(value, io.TextIOBase)


def open_file_input(name: str, source: Any, stack: ExitStack) -> FileInput:
    """Open one file input as a binary stream registered on ``stack`` (closed with it).

    Accepted: a local path (``str`` or ``os.PathLike``), a storage URI (``file:///...``,
    ``s3://...``: any scheme ObjectStoragePath knows), an ``ObjectStoragePath``, ``bytes``, or an
    open binary stream (left open: the caller owns it).
    """
    stream: BinaryIO
    if isinstance(source, bytes | bytearray | memoryview):
        return _file(name, io.BytesIO(bytes(source)))
    if isinstance(source, ObjectStoragePath):
        return _open_storage_path(name, source, stack)
    if isinstance(source, str) and source.startswith("file://"):
        # Accept both the plain form ObjectStoragePath prints and a percent-encoded file URI
        # (Path.as_uri()): decode only when the literal path does not exist.
        storage_path = ObjectStoragePath(source)
        if not storage_path.exists() and "%" in source:
            storage_path = ObjectStoragePath(unquote(source))
        return _open_storage_path(name, storage_path, stack)
    if isinstance(source, str) and "://" in source:
        return _open_storage_path(name, ObjectStoragePath(source), stack)
    if isinstance(source, str | os.PathLike):
        path = Path(os.fsdecode(os.fspath(source))).expanduser()
        try:
            _check_local_file(path)
            stream = stack.enter_context(path.open("rb"))
        except OSError as err:
            raise CraftInputError(
                f"file input {name!r}: cannot read {str(path)!r}: "
                f"{err.strerror or type(err).__name__}; expected a readable file"
            ) from None
        except _NotAFile as err:
            raise CraftInputError(f"file input {name!r}: {err}") from None
        return _file(path.name, stream)
    if is_binary_stream(source):
        filename = os.path.basename(str(getattr(source, "name", "") or "")) or name
        return _file(filename, source)
    raise CraftInputError(
        f"file input {name!r}: expected a path, a storage URI, an ObjectStoragePath, bytes or a "
        f"binary stream, got {type(source).__name__}"
    )


class _NotAFile(Exception):
    """A local path that exists as something else than a regular file, or does not exist."""


def _check_local_file(path: Path) -> None:
    """Raise :class:`_NotAFile` saying what ``path`` is when it is not a regular file
    (``OSError`` when it cannot even be examined, e.g. a name too long)."""
    if path.is_file():
        return
    shown = repr(str(path))
    if path.is_symlink():
        raise _NotAFile(
            f"{shown} is a broken symbolic link (its target {os.readlink(path)!r} does not "
            "exist); expected a file"
        )
    if path.is_dir():
        raise _NotAFile(f"{shown} is a directory; expected a file")
    if path.exists():
        raise _NotAFile(f"{shown} is not a regular file (a socket, FIFO or device)")
    raise _NotAFile(f"no such file: {shown}")


def _open_storage_path(name: str, path: Any, stack: ExitStack) -> FileInput:
    try:
        exists = path.is_file()
    except Exception as err:  # storage back-ends raise their own errors (auth, network, ...)
        raise CraftInputError(f"file input {name!r}: cannot reach {str(path)!r}: {err}") from err
    if not exists:
        message = f"no such file: {str(path)!r}"
        try:
            if path.is_dir():
                message = f"{str(path)!r} is a directory; expected a file"
        except Exception:  # the first answer stands
            pass
        raise CraftInputError(f"file input {name!r}: {message}")
    stream = stack.enter_context(path.open("rb"))
    return _file(path.name or name, stream)


def open_file_inputs(sources: Mapping[str, Any], stack: ExitStack) -> dict[str, FileInput]:
    """Open every file source (see :func:`open_file_input`); streams close with ``stack``."""
    return {name: open_file_input(name, source, stack) for name, source in sources.items()}
