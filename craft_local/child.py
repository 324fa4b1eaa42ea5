"""Entry point of the child process that runs one execution's pipeline function.

Run as ``python -m craft_local.child JOB.json`` with the execution's copy of the
pipeline code as working directory. Whatever the function prints goes to stdout/stderr,
which the runner turns into logs; the result goes to the job's ``result_path`` as JSON:
``{"outputs": {...}}`` or ``{"error": "message"}``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any


def _load(function_path: str) -> ModuleType:
    path = Path.cwd() / function_path
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"can not load {function_path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _write(result_path: Path, result: dict[str, Any]) -> None:
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, allow_nan=False))
    os.replace(tmp, result_path)


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
    result_path = Path(job["result_path"])
    sys.path.insert(0, str(Path.cwd()))
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
        traceback.print_exc()
        _write(result_path, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    if returned is None:
        returned = {}
    if not isinstance(returned, dict):
        message = (
            f"the function must return a dict of outputs or None, not {type(returned).__name__}"
        )
        print(message, file=sys.stderr)
        _write(result_path, {"error": message})
        return 1
    try:
        _write(result_path, {"outputs": returned})
    except (TypeError, ValueError) as exc:
        message = f"the returned outputs are not JSON values: {exc}"
        print(message, file=sys.stderr)
        _write(result_path, {"error": message})
        return 1
    return 0


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    _exit_with_parent()
    sys.exit(run(job))


if __name__ == "__main__":
    main()
