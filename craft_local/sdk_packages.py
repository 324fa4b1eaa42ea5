"""The official SDK for pipeline code: on a real platform it is installed in the execution's
environment (a pipeline lists ``craft-ai-sdk`` in its requirements), so pipeline code records
metrics with it. Pipeline code here runs with an interpreter that may lack the platform's
packages (an isolated process with a system interpreter, a pod's image): when the platform's
environment has ``craft-ai-sdk``, the files of it and of what it imports are given to the
execution as one folder on its path (:data:`FOLDER`).

Left out: ``weaviate-client`` (the SDK imports it only for the vector database).
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import threading
from importlib import metadata
from pathlib import Path

SDK_DISTRIBUTION = "craft-ai-sdk"
#: Imported lazily by the SDK (vector database calls only): not given.
LEFT_OUT = frozenset({"weaviate-client"})
#: Imported by the SDK without being declared by it.
UNDECLARED = ("typing-extensions",)
#: The folder, in a pod, holding the SDK's packages.
FOLDER = ".craft-sdk"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sdk_distributions() -> list[metadata.Distribution]:
    """``craft-ai-sdk`` and every distribution it needs, as installed; ``[]`` without it."""
    found: dict[str, metadata.Distribution] = {}
    todo = [SDK_DISTRIBUTION, *UNDECLARED]
    while todo:
        name = _normal(todo.pop())
        if name in found or name in LEFT_OUT:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name == SDK_DISTRIBUTION:
                return []
            continue
        found[name] = dist
        for line in dist.requires or []:
            marker = line.partition(";")[2]
            match = _NAME.match(line)
            if match and "extra" not in marker:
                todo.append(match.group(1))
    return list(found.values())


def sdk_files() -> list[tuple[Path, str]]:
    """``(installed file, path relative to the packages folder)`` of the SDK's distributions
    (no byte code, nothing outside the packages folder such as scripts)."""
    files = []
    for dist in sdk_distributions():
        for entry in dist.files or []:
            relative = entry.as_posix()
            if relative.startswith("..") or "__pycache__" in relative:
                continue
            source = Path(str(dist.locate_file(entry)))
            if source.is_file():
                files.append((source, relative))
    return files


class SdkPackages:
    """The SDK's packages of this platform's environment, copied into executions or archived
    for pods (built once, on first use).

    :param cache_dir: where the archive for pods is kept (the data dir).
    """

    def __init__(self, cache_dir: Path) -> None:
        self._archive = cache_dir / "craft-sdk.tar.gz"
        self._lock = threading.Lock()
        self._files: list[tuple[Path, str]] | None = None

    @property
    def available(self) -> bool:
        """Whether the platform's environment has the SDK to give."""
        return bool(self._list())

    def _list(self) -> list[tuple[Path, str]]:
        with self._lock:
            if self._files is None:
                self._files = sdk_files()
            return self._files

    def copy_into(self, folder: Path) -> bool:
        """Copy the packages into ``folder`` (created), readable by every user (public code);
        whether there were any."""
        files = self._list()
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        for source, relative in files:
            target = folder / relative
            for parent in reversed(target.relative_to(folder).parents[:-1]):
                (folder / parent).mkdir(exist_ok=True)
                (folder / parent).chmod(0o755)
            shutil.copyfile(source, target)
            target.chmod(0o644)
        return bool(files)

    def archive(self) -> Path | None:
        """A ``.tar.gz`` of the packages (paths relative to the packages folder), if any."""
        files = self._list()
        if not files:
            return None
        with self._lock:
            if not self._archive.exists():
                tmp = self._archive.with_suffix(".tmp")
                with tarfile.open(tmp, "w:gz") as tar:
                    for source, relative in files:
                        info = tar.gettarinfo(str(source), arcname=relative)
                        info.uid = info.gid = 0
                        info.uname = info.gname = ""
                        info.mode = 0o644
                        with open(source, "rb") as f:
                            tar.addfile(info, f)
                os.replace(tmp, self._archive)
        return self._archive
