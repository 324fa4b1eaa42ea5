"""Safe extraction of uploaded pipeline code (``step_file``, a tar.gz)."""

from __future__ import annotations

import re
import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO


class UnsafeArchive(ValueError):
    """The archive is corrupt, too large, or holds a member we refuse."""


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or path.is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchive(f"absolute path refused: {name!r}")
    if ".." in path.parts:
        raise UnsafeArchive(f"path with '..' refused: {name!r}")
    if member.issym() or member.islnk():
        raise UnsafeArchive(f"link refused: {name!r}")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchive(f"special file refused: {name!r}")


def safe_extract(fileobj: BinaryIO, dest: Path, max_bytes: int) -> None:
    """Extract a gzip (or plain) tar archive into ``dest``.

    Only regular files and folders with relative paths inside ``dest`` are accepted;
    everything is checked before anything is written.

    :param fileobj: the archive, opened for reading in binary mode.
    :param dest: target folder, created if needed.
    :param max_bytes: largest total uncompressed size.
    """
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as tar:
            # Header by header, not tar.getmembers(): reaching the next header inflates the
            # data before it, so an oversized member is refused before it is decompressed.
            members = []
            total = 0
            for member in tar:
                _check_member(member)
                total += member.size
                if total > max_bytes:
                    raise UnsafeArchive(f"archive larger than {max_bytes} bytes uncompressed")
                members.append(member)
            dest.mkdir(parents=True, exist_ok=True)
            root = dest.resolve()
            for member in members:
                target = (root / member.name).resolve()
                if target != root and root not in target.parents:
                    raise UnsafeArchive(f"path outside the target refused: {member.name!r}")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise UnsafeArchive(f"unreadable member: {member.name!r}")
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnsafeArchive(f"not a readable tar.gz archive ({exc.__class__.__name__})") from exc
