"""Entry point of the child process that runs one execution's pipeline function.

Run as ``python -m craft_local.child JOB.json`` (or ``-``: the job on stdin) with the
execution's copy of the pipeline code as working directory. Whatever the function prints
goes to stdout/stderr, which the runner turns into logs; the job's ``paths`` (the SDK's
packages, ``sdk_packages.py``) come on the import path after the code; the result goes to the job's
``result_fd`` (a descriptor the platform opened) or ``result_path`` as JSON:
``{"outputs": {...}}`` or ``{"error": "message"}``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any


def _load(function_path: str) -> ModuleType:
    # Read by its relative name: importlib would make it absolute, and the way from / to the
    # work folder may be closed to this process (it entered the folder before dropping root).
    path = Path(function_path)
    module = ModuleType(path.stem)
    module.__file__ = function_path
    code = compile(path.read_bytes(), function_path, "exec")
    sys.modules[path.stem] = module
    exec(code, module.__dict__)
    return module


def _write(job: dict[str, Any], result: dict[str, Any]) -> None:
    text = json.dumps(result, allow_nan=False)
    if "result_fd" in job:  # opened by the platform: the process need not reach the file
        fd = int(job["result_fd"])
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        data = text.encode()
        while data:
            data = data[os.write(fd, data) :]
        return
    result_path = Path(job["result_path"])
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, result_path)


def _user_traceback(exc: BaseException) -> TracebackType | None:
    """The traceback of ``exc`` from the first frame that is not this module's: a failure shows
    the user's frames, not the platform's (``None`` when the platform itself raised it)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals is globals():
        tb = tb.tb_next
    return tb


def _exit_with_parent() -> None:
    """End this process if the platform dies (SIGKILL leaves no chance to clean up)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(70)

    threading.Thread(target=watch, daemon=True).start()


def run(job: dict[str, Any]) -> int:
    """Call the pipeline function of ``job`` and write its result; return the exit code."""
    sys.path.insert(0, "")  # the work folder, by a relative name (see _load)
    for position, folder in enumerate(job.get("paths", []), start=1):
        sys.path.insert(position, folder)  # after the pipeline's code (the SDK's packages)
    try:
        if not Path(job["function_path"]).is_file():
            raise FileNotFoundError(f"function_path '{job['function_path']}' is not in the code")
        module = _load(job["function_path"])
        function = getattr(module, job["function_name"], None)
        if not callable(function):
            raise AttributeError(
                f"'{job['function_path']}' has no function '{job['function_name']}'"
            )
        returned = function(**job["kwargs"])
    except BaseException as exc:  # the user's code may raise anything, SystemExit included
        traceback.print_exception(type(exc), exc, _user_traceback(exc))
        _write(job, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    if returned is None:
        returned = {}
    if not isinstance(returned, dict):
        message = (
            f"the function must return a dict of outputs or None, not {type(returned).__name__}"
        )
        print(message, file=sys.stderr)
        _write(job, {"error": message})
        return 1
    try:
        _write(job, {"outputs": returned})
    except (TypeError, ValueError) as exc:
        message = f"the returned outputs are not JSON values: {exc}"
        print(message, file=sys.stderr)
        _write(job, {"error": message})
        return 1
    return 0


def main() -> None:
    if sys.argv[1] == "--check":  # the platform checks it can run this file as another user
        wanted = sys.argv[2] if len(sys.argv) > 2 else ""
        sys.exit(0 if wanted in ("", f"{sys.version_info[0]}.{sys.version_info[1]}") else 3)
    if sys.argv[1] == "-":  # the job on stdin, then nothing more on it
        job = json.loads(sys.stdin.buffer.read())
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
    else:
        job = json.loads(Path(sys.argv[1]).read_text())
    _exit_with_parent()
    sys.exit(run(job))


if __name__ == "__main__":
    main()
