"""The built wheel as a user installs it: next to Airflow in a fresh venv, with and without the
``local`` extra (``make test-dist``; prints its timings)."""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import tarfile
import zipfile
from pathlib import Path

import httpx
from conditions import wait_until
from venvs import PLATFORM_DEPENDENCIES, REPO_ROOT, Timed, make_venv, uv_install

from craft_local.server import free_port

INSTALL_HINT = 'pip install "craft-airflow[local]"'
#: The provider and the embedded platform: the distribution ships both.
PACKAGES = ("craft_airflow", "craft_local")


def _package_files() -> set[str]:
    return {
        str(p.relative_to(REPO_ROOT))
        for package in PACKAGES
        for p in (REPO_ROOT / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def _name(requirement: str) -> str:
    return requirement.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip().lower()


def test_the_wheel_holds_every_file_of_the_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {n for n in archive.namelist() if n.split("/")[0] in PACKAGES}
    assert _package_files() - in_wheel == set()
    assert {"craft_airflow/hooks/craft.py", "craft_local/demo.py"} <= in_wheel
    assert "craft_local/pages/templates/base.html" in in_wheel
    # The example pipelines, served by craft-local serve --examples.
    assert {
        "craft_local/examples/word-count/pipeline.json",
        "craft_local/examples/word-count/main.py",
    } <= in_wheel


def test_the_sdist_holds_the_package_and_its_build_config(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md"} <= names
    assert _package_files() - names == set()
    # What a user reads and copies; never bytecode.
    assert {
        "docs/architecture.md",
        "docs/platform-contract.md",
        "example_dags/craft_run_pipeline.py",
    } <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_platform_dependencies_are_only_in_the_local_extra(wheel: Path) -> None:
    meta = _metadata(wheel)
    requirements = meta.get_all("Requires-Dist") or []
    unconditional = {_name(r) for r in requirements if ";" not in r}
    local = {_name(r) for r in requirements if 'extra == "local"' in r}
    assert "apache-airflow" in unconditional
    assert unconditional & PLATFORM_DEPENDENCIES == set()
    assert local == PLATFORM_DEPENDENCIES
    assert {_name(r) for r in requirements if _name(r) in PLATFORM_DEPENDENCIES} == local
    assert "local" in (meta.get_all("Provides-Extra") or [])
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        entry_points = archive.read(name).decode()
    assert "craft-local = craft_local.extra:main" in entry_points
    assert "provider_info = craft_airflow.get_provider_info:get_provider_info" in entry_points


def test_airflow_lists_the_provider(airflow_venv: Path, timed: Timed, tmp_path: Path) -> None:
    # A user's environment, not the test session's (tests/conftest.py sets AIRFLOW__* variables).
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path)}
    result = timed(
        "airflow providers list",
        [str(airflow_venv / "airflow"), "providers", "list", "-o", "json"],
        env=env,
    )
    assert result.returncode == 0, result.stderr
    start = result.stdout.find("[{")  # after any notice Airflow prints on a first run
    assert start >= 0, result.stdout + result.stderr
    providers = {p["package_name"]: p["version"] for p in json.loads(result.stdout[start:])}
    assert providers.get("craft-airflow") == "0.1.0", providers


def test_craft_local_without_the_extra_prints_the_install_hint(
    tmp_path: Path, timed: Timed, wheel: Path
) -> None:
    """The wheel alone (``--no-deps``: none of the extra's distributions present)."""
    bin_dir = make_venv(timed, tmp_path / "bare", "wheel alone")
    uv_install(
        timed, "wheel alone: uv pip install --no-deps <wheel>", bin_dir, "--no-deps", str(wheel)
    )
    result = timed(
        "wheel alone: craft-local serve",
        [str(bin_dir / "craft-local"), "serve", "--data-dir", str(tmp_path / "d")],
        env={"PATH": os.environ["PATH"], "CRAFT_LOCAL_SDK_TOKEN": "dist-test-token-1"},
        timeout=60,
    )
    assert result.returncode != 0
    assert INSTALL_HINT in result.stderr
    assert "missing: fastapi, jinja2, uvicorn, python-multipart" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_local_extra_serves_the_examples_an_example_dag_runs_on(
    airflow_venv: Path, timed: Timed, wheel: Path, sdist: Path, tmp_path: Path
) -> None:
    """``pip install craft-airflow[local]``, ``craft-local serve --examples``, then an example
    DAG (as the sdist holds it) with ``airflow dags test``: every pipeline it needs is there."""
    uv_install(
        timed,
        "uv pip install <wheel>[local] (after airflow)",
        airflow_venv,
        f"craft-airflow[local] @ {wheel.as_uri()}",
    )
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if "/example_dags/" in m.name]
        archive.extractall(tmp_path / "sdist", members=members, filter="data")
    dags = next((tmp_path / "sdist").glob("*/example_dags"))
    port = free_port()
    token = "dist-test-token-2"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CRAFT_LOCAL_SDK_TOKEN": token}
    log = (tmp_path / "platform.log").open("w")
    proc = subprocess.Popen(
        [
            str(airflow_venv / "craft-local"),
            "serve",
            "--examples",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            assert proc.poll() is None, (tmp_path / "platform.log").read_text()
            try:
                return httpx.get(f"{url}/api/v1/environment-info", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answers, 60, "craft-local serve (from the wheel) to answer")
        home = tmp_path / "airflow-home"
        connection = {"conn_type": "craftai", "host": url, "password": token}
        airflow_env = {
            **env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_CRAFT_AI_DEFAULT": json.dumps(connection),
        }
        migrated = timed(
            "with the local extra: airflow db migrate",
            [str(airflow_venv / "airflow"), "db", "migrate"],
            env=airflow_env,
            timeout=600,
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        ran = timed(
            "with the local extra: airflow dags test craft_run_pipeline",
            [str(airflow_venv / "airflow"), "dags", "test", "craft_run_pipeline"],
            env=airflow_env,
            timeout=600,
        )
        output = ran.stdout + ran.stderr
        assert ran.returncode == 0, output
        assert "state=success" in output, output[-4000:]
        access = httpx.post(f"{url}/api/v1/auth/refresh", json={"refresh_token": token})
        headers = {"Authorization": f"Bearer {access.json()['access_token']}"}
        executions = httpx.get(f"{url}/api/v1/pipelines/all-types/executions", headers=headers)
        assert [e["status"] for e in executions.json()] == ["Succeeded"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is complete.
    output = (tmp_path / "platform.log").read_text()
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
