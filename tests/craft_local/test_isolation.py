"""Pipeline code on the process runtime: it can not read the platform's secrets, database, or
another execution's files (run as root: a user of its own per execution), else the platform
says loudly that it can."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conditions import wait_until
from platform_kit import TOKEN, Api, create_pipeline, output_values, start_platform

from craft_local.server import EmbeddedPlatform

HOLD = (
    "import time\n"
    "def main():\n"
    "    with open('private.txt', 'w') as f:\n"
    "        f.write('held-execution-private-data')\n"
    "    time.sleep(120)\n"
)

# Tries every way to the platform's secrets and another execution's files; returns what worked.
PROBE = """
import glob, os

def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(4096).decode("latin-1")
    except OSError:
        return None

def main(data_dir, other_id):
    found = {}
    environ = "\\n".join(f"{k}={v}" for k, v in os.environ.items())
    found["own environment"] = environ
    for path in glob.glob("/proc/[0-9]*/environ"):
        text = _read(path)
        if text and path != f"/proc/{os.getpid()}/environ":
            found[path] = text
    other = os.path.join(data_dir, "executions", other_id)
    for path in (
        os.path.join(data_dir, "jwt-secret"),
        os.path.join(data_dir, "platform.db"),
        os.path.join(other, "work", "private.txt"),
        os.path.join(other, "job.json"),
        "/proc/%d/cwd/private.txt" % os.getppid(),
    ):
        text = _read(path)
        if text is not None:
            found[path] = text
    for folder in (data_dir, os.path.join(data_dir, "executions"), other):
        try:
            found["listing of " + folder] = " ".join(os.listdir(folder))
        except OSError:
            pass
    for path in glob.glob("/proc/[0-9]*/cwd/private.txt"):
        text = _read(path)
        if text is not None:
            found[path] = text
    return {"found": found}
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    p = start_platform(tmp_path_factory.mktemp("isolation"), declared=False)
    yield p
    p.stop()


def test_pipeline_code_finds_no_secret_and_no_other_execution(platform: EmbeddedPlatform) -> None:
    log = platform.log_tail(200)
    if os.geteuid() != 0:  # no isolation possible: it must be said, loudly
        assert "PIPELINE CODE IS NOT ISOLATED" in log
        return
    assert "each execution runs as a user of its own" in log, log
    api = Api(platform.url, platform.sdk_token)
    assert create_pipeline(api, "hold", HOLD).status_code == 200
    probe_inputs = [
        {"name": "data_dir", "data_type": "string"},
        {"name": "other_id", "data_type": "string"},
    ]
    outputs = [{"name": "found", "data_type": "json"}]
    assert create_pipeline(api, "probe", PROBE, probe_inputs, outputs).status_code == 200
    held = api.start("hold")
    private = platform.data_dir / "executions" / held / "work" / "private.txt"
    wait_until(private.exists, 20, "the held execution to write its file")
    secret = (platform.data_dir / "jwt-secret").read_bytes()
    # The control: everything the probe looks for is there, readable by the platform's user.
    assert private.read_text() == "held-execution-private-data"
    assert (platform.data_dir / "platform.db").stat().st_size > 0
    assert TOKEN in Path(f"/proc/{platform._proc.pid}/environ").read_text(  # type: ignore[union-attr]
        errors="replace"
    )
    try:
        done = api.finish("probe", {"data_dir": str(platform.data_dir), "other_id": held})
    finally:
        api.delete(f"/api/v1/executions/{held}")
    assert done["status"] == "Succeeded", done
    found = output_values(done)["found"]
    assert set(found) == {"own environment"}, sorted(found)
    everything = json.dumps(found) + json.dumps(
        api.post(f"/api/v1/executions/{done['execution_id']}/logs", json={}).json()
    )
    for leaked in (TOKEN, secret.hex(), "held-execution-private-data", "CRAFT_LOCAL_"):
        assert leaked not in everything
