"""The ``serve`` command line: options, environment variables, required settings, the printed
connection, no access log."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from conditions import wait_until
from platform_kit import Api, run_printed

from craft_local.cli import build_parser, config_from_args, env_var
from craft_local.server import EmbeddedPlatform


def test_env_vars_provide_every_option(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRAFT_LOCAL_SDK_TOKEN", "from-env-token")
    monkeypatch.setenv("CRAFT_LOCAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CRAFT_LOCAL_MAX_CONCURRENCY", "2")
    monkeypatch.setenv("CRAFT_LOCAL_FAULT_503_RATE", "0.25")
    config = config_from_args(build_parser().parse_args(["serve", "--long-poll-seconds", "0.5"]))
    assert config.sdk_token == "from-env-token"
    assert config.data_dir == tmp_path.resolve()
    assert config.max_concurrency == 2
    assert config.long_poll_seconds == 0.5
    assert config.faults.rate_503 == 0.25
    assert config.host == "127.0.0.1" and config.jwt_lifetime == 3600
    assert env_var("fault-retry-after") == "CRAFT_LOCAL_FAULT_RETRY_AFTER"


def test_command_line_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAFT_LOCAL_PORT", "9000")
    args = build_parser().parse_args(
        ["serve", "--port", "9100", "--data-dir", "x", "--sdk-token", "t"]
    )
    assert args.port == 9100


def test_missing_token_is_an_error(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "craft_local", "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert result.returncode != 0
    assert "CRAFT_LOCAL_SDK_TOKEN" in result.stderr


def test_bad_rate_is_refused(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["serve", "--data-dir", str(tmp_path), "--sdk-token", "t", "--fault-429-rate", "1.5"]
    )
    with pytest.raises(SystemExit, match="rate-429"):
        config_from_args(args)


def test_fault_match_is_passed_on_and_a_bad_expression_refused(tmp_path: Path) -> None:
    base = ["serve", "--data-dir", str(tmp_path), "--sdk-token", "t"]
    config = config_from_args(build_parser().parse_args([*base, "--fault-match", "^POST /x$"]))
    assert config.faults.match == "^POST /x$"
    assert config_from_args(build_parser().parse_args(base)).faults.match is None
    with pytest.raises(SystemExit, match="fault-match is not a regular expression"):
        config_from_args(build_parser().parse_args([*base, "--fault-match", "(unclosed"]))


def test_serve_prints_the_connection_that_reaches_it_without_the_token(tmp_path: Path) -> None:
    """On a port chosen by the system (``--port 0``): the printed URL is the bound one."""
    token = "serve-prints-conn-token-5e0b"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "craft_local",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CRAFT_LOCAL_SDK_TOKEN": token},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        wait_until(
            lambda: any("airflow connections add" in line for line in lines) or proc.poll(),
            30,
            "the printed connection",
        )
        ran = run_printed("".join(lines), token)
        url = ran["exported"]["host"]
        assert ran["exported"]["extra"] == {"control_url": url}
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
        refresh = httpx.post(f"{url}/api/v1/auth/refresh", json={"refresh_token": token})
        assert refresh.status_code == 200, refresh.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(5)
    output = "".join(lines)
    assert "Application shutdown complete" in output
    assert token not in output


def test_tokens_are_never_logged(platform: EmbeddedPlatform, api: Api) -> None:
    httpx.get(
        f"{platform.url}/endpoints/v1/all-types-endpoint/executions/nope?token=all-types-endpoint-local-token"
    )
    api.get("/api/v1/users/me")
    log = platform.log_path.read_text()
    assert "serving on" in log
    for secret in (platform.sdk_token, "all-types-endpoint-local-token", api.jwt()):
        assert secret not in log
