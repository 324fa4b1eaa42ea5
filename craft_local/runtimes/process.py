"""The ``process`` runtime: one ``python -m craft_local.child`` process per execution.

The pipeline code is copied into the execution folder, the child runs there as the server's
own user with the server's environment (minus ``CRAFT_LOCAL_*``) plus the platform's
environment variables; its output becomes the logs line by line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading

from craft_local.runtimes import Launch, Outcome
from craft_local.store import Store


class ProcessRuntime:
    """Runs executions as child processes of the server.

    :param store: the platform's store (for the logs).
    """

    detaches_on_stop = False

    def __init__(self, store: Store) -> None:
        self.store = store
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._killed: set[str] = set()
        self._stopping = False
        self._lock = threading.Lock()

    def run(self, launch: Launch) -> Outcome:
        shutil.copytree(
            launch.code_dir,
            launch.work,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        kwargs = dict(launch.kwargs)
        for name, path in launch.file_inputs.items():
            kwargs[name] = {"path": str(path)}
        job_path = launch.exec_dir / "job.json"
        job_path.write_text(
            json.dumps(
                {
                    "function_path": launch.function_path,
                    "function_name": launch.function_name,
                    "kwargs": kwargs,
                    "result_path": str(launch.result_path),
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFT_LOCAL_")}
        env.update(launch.env)
        env.update({"CRAFT_AI_EXECUTION_ID": launch.execution_id, "PYTHONUNBUFFERED": "1"})
        proc = subprocess.Popen(
            [sys.executable, "-m", "craft_local.child", str(job_path)],
            cwd=launch.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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

    def reattachable(self, running: list[str]) -> list[str]:
        return []  # a child process does not survive its platform


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
