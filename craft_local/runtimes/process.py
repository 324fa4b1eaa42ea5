"""The ``process`` runtime: one ``craft_local/child.py`` process per execution.

The pipeline code is copied into the execution's work folder, where the child runs with a
scrubbed environment plus the platform's environment variables (``isolation.py``); run as
root, the platform starts it as a user of its own, owning the work folder and copies of its
file inputs only: it enters the work folder as root (the data dir above it stays private), so
paths it is given are relative to it. The job comes on the child's stdin, the result goes to
a file the platform opened for it (an inherited descriptor); its output becomes the logs line
by line. Pipeline code run with another interpreter than the platform's gets a copy of the
SDK's packages (``sdk_packages.py``), shared and read-only, on its import path.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from craft_local.isolation import CHILD, Isolation, child_env, chown_tree
from craft_local.runtimes import Launch, Outcome, sdk_environment
from craft_local.sdk_packages import SdkPackages
from craft_local.store import Store

#: Folder of the work folder holding copies of the file inputs (isolated runs).
INPUTS = ".craft-inputs"


class ProcessRuntime:
    """Runs executions as child processes of the server.

    :param store: the platform's store (for the logs).
    :param isolation: who pipeline code runs as.
    :param platform_url: where pipeline code reaches the platform (its SDK's environment).
    """

    detaches_on_stop = False

    def __init__(
        self,
        store: Store,
        isolation: Isolation | None = None,
        platform_url: str = "http://127.0.0.1:8765",
    ) -> None:
        self.store = store
        self.platform_url = platform_url
        self.sdk = SdkPackages(store.data_dir)
        self._sdk_dir: Path | None = None
        self.isolation = isolation if isolation is not None else Isolation()
        self.isolation.warn()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._killed: set[str] = set()
        self._stopping = False
        self._lock = threading.Lock()

    def run(self, launch: Launch) -> Outcome:
        uid = self.isolation.allocate() if self.isolation.enabled else None
        try:
            return self._run(launch, uid)
        finally:
            if uid is not None:
                self.isolation.release(uid)

    def _run(self, launch: Launch, uid: int | None) -> Outcome:
        shutil.copytree(
            launch.code_dir,
            launch.work,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        kwargs = dict(launch.kwargs)
        for name, path in launch.file_inputs.items():
            if uid is None:
                kwargs[name] = {"path": str(path)}
            else:  # the original stays root's: the process gets its own copy
                copy = Path(INPUTS) / name / path.name
                (launch.work / copy).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, launch.work / copy)
                kwargs[name] = {"path": str(copy)}  # relative: the way in is private
        paths = self._sdk_paths()
        if uid is not None:
            chown_tree(launch.work, uid)
            os.chmod(launch.work, 0o700)
        execution_env = {**launch.env, **sdk_environment(self.platform_url, launch)}
        env = child_env(os.environ, execution_env, launch.work)
        identity: dict[str, Any] = (
            {} if uid is None else {"user": uid, "group": uid, "extra_groups": [], "umask": 0o077}
        )
        # The child inherits this descriptor under the same number (pass_fds).
        result_fd = os.open(launch.result_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            job_path = launch.exec_dir / "job.json"
            job_path.write_text(
                json.dumps(
                    {
                        "function_path": launch.function_path,
                        "function_name": launch.function_name,
                        "kwargs": kwargs,
                        "paths": paths,
                        "result_fd": result_fd,
                    }
                )
            )
            with open(job_path, "rb") as job:
                proc = subprocess.Popen(
                    # -P: the child's folder (craft_local/) is not on the pipeline's path.
                    [self.isolation.python, "-P", str(CHILD), "-"],
                    cwd=launch.work,
                    env=env,
                    stdin=job,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(result_fd,),
                    **identity,
                )
        finally:
            os.close(result_fd)
        with self._lock:
            self._procs[launch.execution_id] = proc
            doomed = launch.execution_id in self._killed or self._stopping
        if doomed:
            _kill(proc)
        reader = threading.Thread(target=self._pump, args=(launch.execution_id, proc), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=launch.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(proc)
            proc.wait()
        reader.join(timeout=5)
        with self._lock:
            self._procs.pop(launch.execution_id, None)
            self._killed.discard(launch.execution_id)
        return Outcome(returncode=proc.returncode, timed_out=timed_out, timeout_s=launch.timeout_s)

    def _sdk_paths(self) -> list[str]:
        """The import path giving pipeline code the SDK: none with the platform's own
        interpreter (it has the SDK if installed), else a shared copy of its packages, by an
        absolute path (the way to the work folder is closed to an isolated process)."""
        if self.isolation.python == sys.executable:
            return []
        with self._lock:
            if self._sdk_dir is None:
                folder = Path(tempfile.mkdtemp(prefix="craft-local-sdk-"))
                if not self.sdk.copy_into(folder):
                    shutil.rmtree(folder, ignore_errors=True)
                self._sdk_dir = folder
        return [str(self._sdk_dir)] if self._sdk_dir.exists() else []

    def _pump(self, execution_id: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.store.append_log(execution_id, raw.decode("utf-8", "replace").rstrip("\r\n"))
        proc.stdout.close()

    def kill(self, execution_id: str) -> None:
        with self._lock:
            self._killed.add(execution_id)
            proc = self._procs.get(execution_id)
        if proc is not None:
            _kill(proc)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            procs = list(self._procs.values())
        for proc in procs:
            _kill(proc)
        if self._sdk_dir is not None:
            shutil.rmtree(self._sdk_dir, ignore_errors=True)

    def reattachable(self, running: list[str]) -> list[str]:
        return []  # a child process does not survive its platform


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
