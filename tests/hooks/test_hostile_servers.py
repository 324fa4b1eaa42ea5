"""Both transports against servers on 127.0.0.1 built to misbehave (oversized, endless and
trickling bodies): each call ends with the right ``CraftError``, naming the call and the bound,
while the calling process's peak memory stays bounded.

Each call runs in its own process (``hostile_call.py``) so that its peak RSS is its own; the
time to the error and the peak growth are printed (``pytest -s``), and asserted only against
generous bounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_server import HostileServer

CALL = Path(__file__).with_name("hostile_call.py")
#: Answers read into memory are bounded by this in these tests (connection extra).
MAX_BYTES = 1024 * 1024
#: Seconds a whole answer may take (request_timeout, long_poll_timeout, transfer_timeout).
DEADLINE = 3
#: Peak RSS growth allowed during one call (unbounded, the same calls reached gigabytes).
PEAK_GROWTH_MIB = 48
#: Generous: a call ends long before this, or the deadline is not enforced.
GENEROUS_SECONDS = 60


def run_call(server: HostileServer, transport: str, kind: str) -> dict:
    connection = {
        "conn_type": "craftai",
        "host": server.url,
        "password": "hostile-sdk-token",
        "extra": {
            "max_response_bytes": MAX_BYTES,
            "request_timeout": DEADLINE,
            "long_poll_timeout": DEADLINE,
            "transfer_timeout": DEADLINE,
            "max_retries": 0,
        },
    }
    env = {**os.environ, "AIRFLOW_CONN_CRAFT_HOSTILE": json.dumps(connection)}
    process = subprocess.Popen(
        [sys.executable, str(CALL), transport, kind],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=GENEROUS_SECONDS + 60)
    finally:
        if process.poll() is None:
            process.kill()  # by its PID; the call never ended
            process.wait()
    assert process.returncode == 0, err[-2000:]
    (line,) = [line for line in out.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    print(
        f"\n{transport} {kind} vs {server.mode}: {result['error']} after {result['seconds']} s, "
        f"peak RSS +{result['peak_growth_mib']} MiB; server sent {server.sent} bytes"
    )
    return result


CASES = [
    # (transport, call, server mode, error class, words of the message)
    ("sync", "logs", "oversized", "CraftAnswerTooLarge", f"max_response_bytes={MAX_BYTES}"),
    ("sync", "logs", "endless", "CraftAnswerTooLarge", f"max_response_bytes={MAX_BYTES}"),
    ("sync", "logs", "trickle", "CraftDeadlineExceeded", f"request_timeout={DEADLINE}"),
    ("sync", "download", "trickle", "CraftDeadlineExceeded", f"transfer_timeout={DEADLINE}"),
    ("sync", "wait", "endless", "CraftAnswerTooLarge", f"max_response_bytes={MAX_BYTES}"),
    ("sync", "wait", "trickle", "CraftDeadlineExceeded", f"long_poll_timeout={DEADLINE}"),
    ("async", "logs", "oversized", "CraftAnswerTooLarge", f"max_response_bytes={MAX_BYTES}"),
    ("async", "logs", "endless", "CraftAnswerTooLarge", f"max_response_bytes={MAX_BYTES}"),
    ("async", "logs", "trickle", "CraftDeadlineExceeded", f"request_timeout={DEADLINE}"),
    ("async", "download", "trickle", "CraftDeadlineExceeded", f"transfer_timeout={DEADLINE}"),
    # The long-polls go through the held-request pool (h11).
    ("async", "wait", "oversized", "CraftAnswerTooLarge", f"max_response_bytes={MAX_BYTES}"),
    ("async", "wait", "endless", "CraftAnswerTooLarge", f"max_response_bytes={MAX_BYTES}"),
    ("async", "wait", "trickle", "CraftDeadlineExceeded", f"long_poll_timeout={DEADLINE}"),
]
OPERATION = {
    "logs": "get logs of execution 'ex-1'",
    "download": "download output 'out' of execution 'ex-1'",
    "wait": "wait for execution 'ex-1'",
}


@pytest.mark.parametrize(("transport", "kind", "mode", "error", "bound"), CASES)
def test_a_hostile_answer_ends_in_a_clear_error_with_bounded_memory(
    transport, kind, mode, error, bound
):
    with HostileServer(mode) as server:
        result = run_call(server, transport, kind)
    assert result["error"] == error, result
    assert "CraftError" in result["bases"]
    assert OPERATION[kind] in result["message"]
    assert bound in result["message"]
    assert result["peak_growth_mib"] < PEAK_GROWTH_MIB, result
    assert result["seconds"] < GENEROUS_SECONDS, result
    if mode == "endless":  # the client stopped reading: the server could not write much more
        assert max(server.sent) < 64 * MAX_BYTES, server.sent
