"""The platform's side of the pod API: per-execution pod tokens, what a pod may fetch, and
the results pods post (kept on disk, so a restarted platform still finds them).

A pod token is an HMAC of the execution id under the platform's secret: it opens the pod API
of that one execution while it runs, and nothing else (the SDK and endpoint APIs do not know
it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tarfile
import threading
from pathlib import Path
from typing import Any

import craft_local.child as child_module
from craft_local.auth import tokens_equal
from craft_local.errors import bad_request, not_found, unauthorized
from craft_local.runtimes import Launch, sdk_environment
from craft_local.sdk_packages import SDK_DISTRIBUTION, SdkPackages

REPORT_FILE = "pod-report.json"
POD_OUTPUTS = "_pod_outputs"


class PodGateway:
    """The executions pods may talk about, and their posted reports.

    :param secret: the platform's secret (pod tokens are derived from it).
    :param platform_url: where pods reach the platform (their SDK's environment).
    """

    def __init__(self, secret: bytes, platform_url: str = "http://127.0.0.1:8765") -> None:
        self._secret = secret
        self.platform_url = platform_url
        self.sdk: SdkPackages | None = None
        self._launches: dict[str, Launch] = {}
        self._reported: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._runner_source = Path(child_module.__file__).read_text()

    def token(self, execution_id: str) -> str:
        """The pod token of ``execution_id``."""
        message = b"craft-pod:" + execution_id.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def open(self, launch: Launch) -> threading.Event:
        """Accept the pod API of ``launch``; the event is set when its report arrives."""
        launch.exec_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._launches[launch.execution_id] = launch
            event = self._reported.setdefault(launch.execution_id, threading.Event())
        if (launch.exec_dir / REPORT_FILE).exists():
            event.set()
        return event

    def close(self, execution_id: str) -> None:
        """Refuse the pod API of ``execution_id`` from now on."""
        with self._lock:
            self._launches.pop(execution_id, None)
            self._reported.pop(execution_id, None)

    def wake(self, execution_id: str) -> None:
        """Wake whoever waits on the execution's report (it is being cancelled)."""
        with self._lock:
            event = self._reported.get(execution_id)
        if event is not None:
            event.set()

    def authorize(self, execution_id: str, authorization: str | None) -> Launch:
        """The launch ``authorization`` (``Bearer <pod token>``) opens, or a 401/404 error."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not tokens_equal(token.strip(), self.token(execution_id)):
            raise unauthorized("Missing or invalid pod token.")
        with self._lock:
            launch = self._launches.get(execution_id)
        if launch is None:
            raise not_found("Running execution", execution_id)
        return launch

    def job_document(self, launch: Launch) -> dict[str, Any]:
        """What the pod runs: function, non-file inputs, file input names, the runner, and its
        environment: the platform's variables and the SDK's (the execution's credential among
        them: fetched with the pod token, never in the Job's visible spec)."""
        return {
            "function_path": launch.function_path,
            "function_name": launch.function_name,
            "kwargs": launch.kwargs,
            "file_inputs": {name: path.name for name, path in launch.file_inputs.items()},
            "file_outputs": launch.file_outputs,
            "env": {**launch.env, **sdk_environment(self.platform_url, launch)},
            "runner": self._runner_source,
            "sdk": self.sdk is not None and self.sdk.available,
        }

    def code_archive(self, launch: Launch) -> Path:
        """A ``.tar.gz`` of the pipeline code (built once per execution)."""
        path = launch.exec_dir / "code.tar.gz"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            with tarfile.open(tmp, "w:gz") as tar:
                tar.add(launch.code_dir, arcname=".", filter=_code_only)
            os.replace(tmp, path)
        return path

    def sdk_archive(self) -> Path:
        """The ``.tar.gz`` of the SDK's packages (``sdk_packages.py``), else a 404."""
        archive = self.sdk.archive() if self.sdk is not None else None
        if archive is None:
            raise not_found("SDK", SDK_DISTRIBUTION)
        return archive

    def input_file(self, launch: Launch, name: str) -> Path:
        """The file of file input ``name``."""
        path = launch.file_inputs.get(name)
        if path is None or not path.is_file():
            raise not_found("File input", name)
        return path

    def output_target(self, launch: Launch, relative: str) -> Path:
        """Where an uploaded output file goes: under ``work/_pod_outputs`` only."""
        base = (launch.work / POD_OUTPUTS).resolve()
        target = (launch.work / relative).resolve()
        if not target.is_relative_to(base) or target == base:
            raise bad_request(f"file path must be under {POD_OUTPUTS}/, got {relative!r}")
        return target

    def record(self, launch: Launch, report: Any) -> None:
        """Keep a pod's report (result, exit code, out-of-memory flag) and wake its waiter."""
        if not isinstance(report, dict) or not isinstance(report.get("returncode"), int):
            raise bad_request("the report must be an object with an integer 'returncode'")
        result = report.get("result")
        if result is not None:
            self._check_result(launch, result)
            _write_json(launch.result_path, result)
        _write_json(
            launch.exec_dir / REPORT_FILE,
            {"returncode": report["returncode"], "oom_killed": bool(report.get("oom_killed"))},
        )
        with self._lock:
            event = self._reported.get(launch.execution_id)
        if event is not None:
            event.set()

    def _check_result(self, launch: Launch, result: Any) -> None:
        if not isinstance(result, dict):
            raise bad_request("'result' must be an object")
        outputs = result.get("outputs")
        if not isinstance(outputs, dict):
            return
        for name in launch.file_outputs:
            value = outputs.get(name)
            if isinstance(value, dict) and isinstance(value.get("path"), str):
                self.output_target(launch, value["path"])  # no file outside the uploads

    @staticmethod
    def report(launch: Launch) -> dict[str, Any] | None:
        """The report the pod posted, if any."""
        try:
            report: dict[str, Any] = json.loads((launch.exec_dir / REPORT_FILE).read_text())
        except (OSError, ValueError):
            return None
        return report


def _code_only(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    parts = Path(info.name).parts
    if "__pycache__" in parts or info.name.endswith(".pyc"):
        return None
    if not (info.isfile() or info.isdir()):
        return None  # no links or devices in what a pod extracts
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)
