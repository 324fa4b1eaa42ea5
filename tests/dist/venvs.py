"""Fresh venvs for the distribution tests, made and filled with the project's uv (warm cache)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DIST = REPO_ROOT / "dist"
#: The uv of the project's .venv (``make`` installs it there).
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
#: What a fresh venv may resolve: the main venv's lock, so these venvs hold what CI tested.
LOCK = REPO_ROOT / "locks" / "requirements-airflow-3.3.txt"

#: What the `local` extra adds (and only it): the embedded platform's own dependencies.
PLATFORM_DEPENDENCIES = frozenset(
    {"fastapi", "jinja2", "uvicorn", "python-multipart", "httpx", "kubernetes", "croniter"}
)


class Timed:
    """Runs commands and records each one's wall time under a name (the printed figures).

    :param timings: where ``name -> seconds`` goes.
    """

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    def __call__(self, name: str, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        kwargs.setdefault("timeout", 900)
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, **kwargs)
        self.timings[name] = round(time.monotonic() - started, 2)
        return result


def make_venv(timed: Timed, path: Path, name: str) -> Path:
    """A new, empty venv at ``path``; return its ``bin`` folder."""
    result = timed(f"{name}: uv venv", [UV, "venv", "-q", "-p", sys.executable, str(path)])
    assert result.returncode == 0, result.stderr
    return path / "bin"


def uv_install(timed: Timed, name: str, bin_dir: Path, *requirements: str) -> None:
    """``uv pip install --compile-bytecode`` ``requirements`` into the venv of ``bin_dir``, each
    distribution at the version :data:`LOCK` pins."""
    command = [UV, "pip", "install", "-q", "--compile-bytecode", "-p", str(bin_dir / "python")]
    command += ["-c", str(LOCK)]
    result = timed(name, [*command, *requirements])
    assert result.returncode == 0, result.stderr
