"""craft_local/sdk_packages.py: the SDK's files given to pipeline code that runs without the
platform's packages, checked by importing the SDK from them with the system interpreter."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from craft_local.sdk_packages import SdkPackages, sdk_distributions

SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}")


def test_the_sdk_and_what_it_imports_without_the_vector_database() -> None:
    names = {dist.metadata["Name"].lower().replace("_", "-") for dist in sdk_distributions()}
    wanted = {"craft-ai-sdk", "requests", "urllib3", "pyjwt", "strenum", "typing-extensions"}
    assert wanted <= names
    assert "weaviate-client" not in names


@pytest.mark.skipif(not SYSTEM_PYTHON.is_file(), reason="needs a system interpreter")
def test_a_copy_and_the_archive_let_a_bare_interpreter_import_the_sdk(tmp_path: Path) -> None:
    packages = SdkPackages(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    copy = tmp_path / "copy"
    assert packages.copy_into(copy)
    assert oct(copy.stat().st_mode & 0o777) == "0o755"
    archive = packages.archive()
    assert archive is not None and packages.archive() == archive  # built once
    extracted = tmp_path / "extracted"
    with tarfile.open(archive) as tar:
        tar.extractall(extracted, filter="data")
    for folder in (copy, extracted):
        code = (
            f"import sys; sys.path.insert(1, {str(folder)!r});"
            " import craft_ai_sdk; print(craft_ai_sdk.__file__)"
        )
        done = subprocess.run(
            [str(SYSTEM_PYTHON), "-I", "-c", code], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(str(folder))
