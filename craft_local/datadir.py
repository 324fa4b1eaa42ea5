"""The data dir: private to the platform's user, and swept of leftovers at start.

The database (endpoint tokens in clear), the JWT signing secret, pipeline code and execution
files live under it, so the folder is ``0700`` and what the platform writes in it ``0600`` /
``0700`` (``craft-local serve`` runs with umask ``077``). A platform that crashed (SIGKILL,
power loss) left the work folders of its running executions and the staging folders of code
uploads behind: the next start removes those of executions that no longer run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from collections.abc import Collection
from pathlib import Path

log = logging.getLogger("craft_local")

#: umask of ``craft-local serve``: nothing it creates is readable by other users.
PRIVATE_UMASK = 0o077
#: Prefix of the staging folders of code uploads (``routers/pipelines.py``).
STAGING_PREFIX = "code-"


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` if needed, then take group and other permissions off it and off the
    files and folders right under it (older data dirs were created world-readable)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    for entry in data_dir.iterdir():
        with contextlib.suppress(OSError):
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            os.chmod(entry, stat.S_IMODE(mode) & 0o700)


def sweep_leftovers(data_dir: Path, executions_dir: Path, still_running: Collection[str]) -> int:
    """Remove the work folders of executions that no longer run, and upload staging folders.

    :param data_dir: the data dir (staging folders are right under it).
    :param executions_dir: the folder of the execution folders.
    :param still_running: executions whose work folders stay (re-attached after a restart).
    :return: how many folders were removed.
    """
    removed = 0
    leftovers = [p for p in data_dir.glob(STAGING_PREFIX + "*") if p.is_dir()]
    if executions_dir.is_dir():
        for exec_dir in executions_dir.iterdir():
            if exec_dir.name not in still_running and (exec_dir / "work").is_dir():
                leftovers.append(exec_dir / "work")
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
        removed += not path.exists()
    if removed:
        log.info("removed %d work folder(s) left by a stop without clean-up", removed)
    return removed
