"""``EmbeddedPlatform``: start, stop, kill and restart a platform process (tests, demo)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class PlatformStartError(RuntimeError):
    """The platform process exited or did not answer in time."""


class EmbeddedPlatform:
    """One ``craft-local serve`` process on ``host:port`` with its data under ``data_dir``.

    The server's output goes to ``data_dir/platform.log``; the SDK token is passed through
    the environment, never on the command line.

    :param data_dir: the platform's data folder (kept across restarts).
    :param sdk_token: the SDK token the platform accepts.
    :param pipelines_dir: declared pipelines to load at start.
    :param host: interface to listen on.
    :param port: port; 0 picks a free one once, kept by :meth:`restart`.
    :param extra_args: more ``serve`` options, e.g. ``["--long-poll-seconds", "0.5"]``.
    :param env: extra environment variables for the server process.
    :param shutdown_grace_seconds: on :meth:`stop`, how long running executions may take to
        finish (``--shutdown-grace-seconds``).
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        sdk_token: str,
        pipelines_dir: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        shutdown_grace_seconds: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.sdk_token = sdk_token
        self.pipelines_dir = Path(pipelines_dir).resolve() if pipelines_dir else None
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.log_path = self.data_dir / "platform.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30) -> EmbeddedPlatform:
        """Spawn the server and wait until ``GET /api/v1/environment-info`` answers 200."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "craft_local",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--shutdown-grace-seconds",
            str(self.shutdown_grace_seconds),
        ]
        if self.pipelines_dir is not None:
            command += ["--pipelines", str(self.pipelines_dir)]
        command += self.extra_args
        env = {**os.environ, **self.env, "CRAFT_LOCAL_SDK_TOKEN": self.sdk_token}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (lives as long as the process)
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        except BaseException:
            self._close_log()
            raise
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as client:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    self._close_log()
                    raise PlatformStartError(
                        f"the platform exited with code {self._proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(f"{self.url}/api/v1/environment-info").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise PlatformStartError(
                        f"the platform did not answer within {timeout} s:\n{self.log_tail()}"
                    )
                time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of ``platform.log`` (empty if unreadable)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float | None = None) -> None:
        """Graceful stop: SIGTERM, then wait for the process to exit.

        The platform stops listening at once, lets running executions finish for up to
        ``shutdown_grace_seconds`` (those still running then end ``Error``), keeps ``Pending``
        ones for the next start to re-queue, and exits. SIGKILL if it has not exited after
        ``timeout`` (default: the grace period plus 15 s).
        """
        if timeout is None:
            timeout = self.shutdown_grace_seconds + 15
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None
        self._close_log()

    def kill(self) -> None:
        """SIGKILL, as in a crash: executions stay Running until the next start."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._proc = None
        self._close_log()

    def restart(self, extra_args: Sequence[str] | None = None) -> None:
        """Stop gracefully (if running) and start again on the same port and data dir."""
        self.stop()
        if extra_args is not None:
            self.extra_args = list(extra_args)
        self.start()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedPlatform:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
