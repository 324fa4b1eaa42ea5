"""Who pipeline code runs as on the ``process`` runtime, and what it can reach.

Run as root, the platform starts each execution's process as a user and group of its own
(a numeric id no other running execution has, from :data:`FIRST_ID`; no account needed) with
no supplementary groups, umask ``077``, and a scrubbed environment (:func:`child_env`). It is
started in its work folder (which it owns) before it drops root, so the data dir stays ``0700``
and root's: the process can read neither the database, nor the signing secret, nor another
execution's folder, nor the platform's ``/proc/<pid>/environ``; the paths it is given (code,
file inputs) are relative to its work folder. After the execution every process left under
its id is killed.

Not run as root, or when that user could not run the interpreter (e.g. installed under a
private home), the process runs as the platform's own user: it then *can* read all of the
above. The platform says so at start (:attr:`Isolation.reason`), and ``docs/security.md``
says so too.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("craft_local")

#: The first user/group id given to executions; ids are never reused while the platform runs.
FIRST_ID = 1_900_000_000
ID_RANGE = 1 << 24
#: Variables of the platform's environment a pipeline process keeps (no secret among them).
KEPT_VARIABLES = ("PATH", "PYTHONPATH", "LANG", "LANGUAGE", "TZ", "TERM")


def child_env(
    platform_env: Mapping[str, str], execution_env: Mapping[str, str], home: Path
) -> dict[str, str]:
    """The environment of a pipeline process: a few harmless variables of the platform's
    (:data:`KEPT_VARIABLES`, ``LC_*``), the platform's environment variables for pipelines,
    ``HOME`` and ``TMPDIR`` in the execution's work folder."""
    env = {k: v for k, v in platform_env.items() if k in KEPT_VARIABLES or k.startswith("LC_")}
    env.update(execution_env)
    env.update({"HOME": str(home), "TMPDIR": str(home), "PYTHONUNBUFFERED": "1"})
    return env


#: ``child.py`` (standard library only): run by path, so no package needs to be importable.
CHILD = Path(__file__).with_name("child.py")
#: Where a same-version interpreter is looked for when the platform's own is out of reach.
_SYSTEM_PYTHONS = (
    f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}",
    f"/usr/local/bin/python{sys.version_info[0]}.{sys.version_info[1]}",
)


class Isolation:
    """Whether executions run as users of their own, the interpreter and the ids they get.

    :param python: interpreter of pipeline code (``--pipeline-python``); ``None``: the
        platform's own, else (isolating, when other users can not run it) a system interpreter
        of the same version.
    """

    def __init__(self, python: str | None = None) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(FIRST_ID + (os.getpid() % 1024) * 4096)
        self._in_use: set[int] = set()
        self.python = python or sys.executable
        self.reason: str | None = None
        self.note: str | None = None
        if os.geteuid() != 0:
            self.reason = (
                f"the platform runs as uid {os.geteuid()}, not root: it can not start pipeline"
                " code as another user"
            )
            return
        candidates = [self.python] if python else [self.python, *_SYSTEM_PYTHONS]
        failures = []
        for candidate in dict.fromkeys(candidates):
            failure = self._probe(candidate)
            if failure is None:
                if candidate != self.python:
                    self.note = (
                        f"other users can not run {self.python}: pipeline code runs with"
                        f" {candidate}, without the platform's packages (--pipeline-python)"
                    )
                self.python = candidate
                return
            failures.append(failure)
        self.reason = "; ".join(failures) + " (set --pipeline-python)"

    @property
    def enabled(self) -> bool:
        """Executions run as users of their own."""
        return self.reason is None

    def _probe(self, python: str) -> str | None:
        """Why a fresh id can not run ``child.py`` with ``python``, or ``None``."""
        if not Path(python).is_file():
            return f"no interpreter at {python}"
        uid = self.allocate()
        try:
            done = subprocess.run(
                [python, str(CHILD), "--check", f"{sys.version_info[0]}.{sys.version_info[1]}"],
                user=uid,
                group=uid,
                extra_groups=[],
                cwd="/",
                env=child_env(os.environ, {}, Path("/")),
                capture_output=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"a process as uid {uid} could not start: {exc}"
        finally:
            with self._lock:  # the probe ran and ended: nothing to kill
                self._in_use.discard(uid)
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
            return f"another user can not run {python} {CHILD} ({' '.join(tail) or 'failed'})"
        return None

    def allocate(self) -> int:
        """A user/group id no running execution has, never given before by this platform."""
        with self._lock:
            while True:
                uid = FIRST_ID + (next(self._ids) - FIRST_ID) % ID_RANGE
                if uid not in self._in_use:
                    self._in_use.add(uid)
                    return uid

    def release(self, uid: int) -> None:
        """Kill every process left under ``uid`` (daemons the pipeline started), free it."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                # As uid, kill(-1) reaches every process of uid, and only those.
                [self.python, "-S", "-c", "import os; os.kill(-1, 9)"],
                user=uid,
                group=uid,
                extra_groups=[],
                cwd="/",
                env={},
                capture_output=True,
                timeout=30,
                check=False,
            )
        with self._lock:
            self._in_use.discard(uid)

    def warn(self) -> None:
        """Say at start what pipeline code can reach (loudly when it is not isolated)."""
        if self.enabled:
            log.info(
                "process runtime: each execution runs as a user of its own (ids from %d) with"
                " a scrubbed environment, interpreter %s",
                FIRST_ID,
                self.python,
            )
            if self.note:
                log.warning("process runtime: %s", self.note)
            return
        log.warning(
            "PIPELINE CODE IS NOT ISOLATED: %s. Pipeline code runs as this platform's user and"
            " can read the SDK token (/proc), the JWT signing secret, the database (endpoint"
            " tokens) and every execution's files. See docs/security.md.",
            self.reason,
        )


def chown_tree(root: Path, uid: int) -> None:
    """Give ``root`` and everything under it to ``uid`` (its group too), links untouched."""
    os.lchown(root, uid, uid)
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.lchown(os.path.join(folder, name), uid, uid)
