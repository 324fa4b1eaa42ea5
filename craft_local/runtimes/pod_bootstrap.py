"""What a Kubernetes pod runs for one execution (standard library only; sent in the Job spec).

It fetches the execution's job, code, file inputs and (when the platform has it) the SDK's
packages from the platform's pod API with the
execution's pod token, runs the pipeline function in a child process (``child.py``, sent by
the platform) with none of its own settings in the environment, uploads the declared file
outputs and posts the result. Logs are the container's output, which the platform follows.
Requests are retried (connection errors, 5xx, 404) for ``CRAFT_POD_PATIENCE_SECONDS``, so a
platform restarting meanwhile still gets the result.
"""

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(os.environ.pop("CRAFT_POD_ROOT", "/craft"))
URL = os.environ.pop("CRAFT_POD_PLATFORM_URL").rstrip("/")
TOKEN = os.environ.pop("CRAFT_POD_TOKEN")
PATIENCE = float(os.environ.pop("CRAFT_POD_PATIENCE_SECONDS", "900"))
EXECUTION_ID = os.environ["CRAFT_AI_EXECUTION_ID"]
BASE = f"{URL}/pod-api/v1/executions/{urllib.parse.quote(EXECUTION_ID, safe='')}"


def say(message):
    print(f"[pod] {message}", file=sys.stderr, flush=True)


def call(method, path, body=None, content_type="application/octet-stream"):
    """One pod API call, retried while the platform is unreachable or answers 5xx."""
    deadline = time.monotonic() + PATIENCE
    delay = 0.2
    while True:
        data = body() if callable(body) else body
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            # 404: a restarted platform has not re-attached yet (a deleted execution's Job is
            # deleted with it, so the wait ends).
            if exc.code < 500 and exc.code != 404:
                detail = exc.read()[:300].decode("utf-8", "replace")
                say(f"{method} {path}: HTTP {exc.code} {detail}")
                sys.exit(3)
            problem = f"HTTP {exc.code}"
        except OSError as exc:  # URLError, connection refused or reset, timeout
            problem = str(exc)
        if time.monotonic() > deadline:
            say(f"{method} {path}: platform unreachable for {PATIENCE:g} s ({problem})")
            sys.exit(4)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def oom_kills():
    """How many processes the container's memory cgroup killed (cgroup v1 or v2)."""
    for path, key in (
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
    ):
        try:
            for line in Path(path).read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except (OSError, ValueError):
            continue
    return 0


def main():
    job = json.loads(call("GET", "/job"))
    work = ROOT / "work"
    work.mkdir(parents=True, exist_ok=True)
    archive = ROOT / "code.tar.gz"
    archive.write_bytes(call("GET", "/code"))
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(work, filter="data")
        else:  # the platform built the archive: no links, no absolute names
            tar.extractall(work)
    archive.unlink()
    kwargs = dict(job["kwargs"])
    for name, filename in job["file_inputs"].items():
        target = ROOT / "inputs" / name / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(call("GET", f"/inputs/{urllib.parse.quote(name, safe='')}"))
        kwargs[name] = {"path": str(target)}
    paths = []
    if job.get("sdk"):  # the SDK's packages, as on a platform that installed them
        sdk = ROOT / "sdk.tar.gz"
        sdk.write_bytes(call("GET", "/sdk"))
        with tarfile.open(sdk) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(ROOT / ".craft-sdk", filter="data")
            else:  # the platform built the archive: regular files, relative names
                tar.extractall(ROOT / ".craft-sdk")
        sdk.unlink()
        paths.append(str(ROOT / ".craft-sdk"))
    runner = ROOT / "child.py"
    runner.write_text(job["runner"])
    result_path = ROOT / "result.json"
    job_path = ROOT / "job.json"
    job_path.write_text(
        json.dumps(
            {
                "function_path": job["function_path"],
                "function_name": job["function_name"],
                "kwargs": kwargs,
                "paths": paths,
                "result_path": str(result_path),
            }
        )
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(ROOT),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "CRAFT_AI_EXECUTION_ID": EXECUTION_ID,
        **job["env"],
    }
    child = subprocess.Popen([sys.executable, "-u", str(runner), str(job_path)], cwd=work, env=env)

    def forward(signum, _frame):
        child.kill()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, forward)
    returncode = child.wait()
    result = None
    if result_path.exists():
        result = json.loads(result_path.read_text())
    if result is not None and isinstance(result.get("outputs"), dict):
        outputs = result["outputs"]
        for name in job["file_outputs"]:
            value = outputs.get(name)
            if not (isinstance(value, dict) and isinstance(value.get("path"), str)):
                continue
            source = work / value["path"]
            relative = f"_pod_outputs/{name}/{source.name or 'file'}"
            if source.is_file():
                call("PUT", f"/files/{urllib.parse.quote(relative)}", body=source.read_bytes)
            value["path"] = relative
    report = {"returncode": returncode, "result": result, "oom_killed": oom_kills() > 0}
    call("POST", "/result", json.dumps(report).encode(), "application/json")


main()
