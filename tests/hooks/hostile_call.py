"""One hook call against a hostile server, run in its own process so that its peak memory is
its own: ``python hostile_call.py {sync|async} {logs|download|wait}``. The connection is
``AIRFLOW_CONN_CRAFT_HOSTILE``. Prints one JSON line: the error's class and its bases, its
message, the seconds the call took, and the growth of the process's peak RSS during the call.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

CONN_ID = "craft_hostile"
#: Marks the result line (libraries may print too).
RESULT = "RESULT "


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    # "5" resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+).
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


class _Discard:
    def write(self, chunk: bytes) -> int:
        return len(chunk)


async def _adiscard(chunk: bytes) -> None:
    return None


def _sync_call(kind: str) -> Any:
    from craft_airflow.hooks.craft import CraftAIHook

    hook = CraftAIHook(CONN_ID)
    hook.session  # noqa: B018  (the session and its config, before measuring)
    calls = {
        "logs": lambda: hook.get_logs("ex-1"),
        "download": lambda: hook.download_output("ex-1", "out", _Discard()),  # type: ignore[arg-type]
        "wait": lambda: hook.wait_for_outcome("ex-1", timeout=None),
    }
    return calls[kind]


def _async_call(kind: str) -> Any:
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook, tls_verification

    tls_verification(True)
    tls_verification(False)
    hook = CraftAIAsyncHook(CONN_ID)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(hook.get_config())
    calls = {
        "logs": lambda: hook.get_logs("ex-1"),
        "download": lambda: hook.download_output("ex-1", "out", _adiscard),
        "wait": lambda: hook.await_outcome("ex-1", timeout=None),
    }

    def call() -> Any:
        try:
            return loop.run_until_complete(calls[kind]())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())  # closes the shared sessions
            loop.close()

    return call


def main() -> None:
    transport, kind = sys.argv[1], sys.argv[2]
    call = _sync_call(kind) if transport == "sync" else _async_call(kind)
    _reset_peak()
    before = _status_kib("VmRSS")
    started = time.monotonic()
    result: dict[str, Any] = {"error": None}
    try:
        call()
    except Exception as exc:
        result = {
            "error": type(exc).__name__,
            "bases": [c.__name__ for c in type(exc).__mro__],
            "message": str(exc),
        }
    result["seconds"] = round(time.monotonic() - started, 3)
    result["peak_growth_mib"] = round((_status_kib("VmHWM") - before) / 1024, 1)
    print(RESULT + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
