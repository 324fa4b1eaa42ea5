"""Server processes of a test deployment: each started in its own session, stopped by its PID.

A :class:`Service` is one command whose process group it owns (the command's children, such as
the LocalExecutor's workers or Celery's pool, share it). Stopping sends a signal to that group,
waits with a deadline, then SIGKILLs it: a SIGTERM to Airflow's scheduler can hang.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from glob import glob
from pathlib import Path
from typing import IO

from conditions import wait_until

LOOPBACK = "127.0.0.1"


class Service:
    """One server command with its output in ``log_path``.

    :param name: what the logs and messages call it.
    :param command: the argv.
    :param log_path: where stdout and stderr go (appended).
    :param env: the whole environment of the process.
    :param cwd: its working directory.
    :param user: run as this user (only when the test runs as root).
    :param stop_signal: the graceful stop signal.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.env = dict(env) if env is not None else dict(os.environ)
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was not started"
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (lives as long as the process)
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
            start_new_session=True,
        )
        return self

    def check_alive(self) -> None:
        """Fail with the end of its log if the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}"
            )

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        """The graceful signal to the process group, then SIGKILL after ``timeout`` seconds."""
        stop_all([self], timeout)

    def kill(self) -> None:
        """SIGKILL to the whole group, as in a crash of the machine running it."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_all(services: Sequence[Service], timeout: float) -> None:
    """Stop ``services`` together: each its graceful signal, then SIGKILL of every process group
    still there after ``timeout`` seconds (children may outlive their leader)."""
    started = [s for s in services if s.proc is not None]
    for service in started:
        if service.running:
            service._signal_group(service.stop_signal)
    deadline = time.monotonic() + timeout
    for service in started:
        assert service.proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            service.proc.wait(max(0.0, deadline - time.monotonic()))
    for service in started:
        service.kill()


def _postgres_bin() -> Path:
    found = sorted(glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise RuntimeError("PostgreSQL server not found: apt-get install postgresql")
    return Path(found[-1]).parent


class PostgresServer:
    """A private PostgreSQL cluster (``initdb``) on ``127.0.0.1:port``, as a non-root user.

    Its data dir and socket dir live in a fresh folder owned by that user; password
    authentication on TCP, nothing listens on another interface.

    :param port: the TCP port.
    :param log_path: the server's log.
    """

    user = "airflow"
    password = "deployment-test-db-password"

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.bin = _postgres_bin()
        self.os_user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="craft-deploy-pg-"))
        self.data_dir = self.root / "data"
        self.service: Service | None = None

    def _run(self, *argv: str) -> None:
        result = subprocess.run(
            argv, user=self.os_user, group=self.os_user, capture_output=True, text=True
        )
        if result.returncode:
            raise RuntimeError(f"{argv[0]} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> PostgresServer:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        pwfile.unlink()
        self.service = Service(
            "postgres",
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                f"unix_socket_directories={self.root}",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",
            ],
            self.log_path,
            cwd=self.root,
            user=self.os_user,
            # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
            stop_signal=signal.SIGINT,
        ).start()
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until(
            self._accepts_connections, timeout=timeout, what="PostgreSQL to accept connections"
        )

    def restart(self) -> None:
        """Stop the server by its PID (fast shutdown: clients are disconnected) and start it
        again on the same port and data dir; returns once it accepts connections."""
        assert self.service is not None, "PostgreSQL was not started"
        self.service.stop(timeout=30)
        self.service.start()
        self.wait_ready()

    def _accepts_connections(self) -> bool:
        assert self.service is not None
        self.service.check_alive()
        import psycopg2

        try:
            psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new database; returns its SQLAlchemy URL."""
        import psycopg2

        conn = psycopg2.connect(self.dsn("postgres"))
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.dsn(name).replace("postgresql://", "postgresql+psycopg2://", 1)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """A ``redis-server`` on ``127.0.0.1:port`` with no persistence."""

    def __init__(self, port: int, log_path: Path, work_dir: Path) -> None:
        self.port = port
        self.url = f"redis://{LOOPBACK}:{port}/0"
        self.service = Service(
            "redis",
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--bind",
                LOOPBACK,
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                "--dir",
                str(work_dir),
            ],
            log_path,
            cwd=work_dir,
        )

    def start(self) -> RedisServer:
        self.service.start()
        wait_until(self._answers, timeout=30, what="redis to answer PING")
        return self

    def restart(self) -> None:
        """Stop the server by its PID and start it again on the same port: with no persistence,
        what it held (queued Celery messages, unacknowledged ones) is gone."""
        self.service.stop()
        self.start()

    def _answers(self) -> bool:
        import socket

        self.service.check_alive()
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self.service.stop()


def _descendants(root: int) -> set[int]:
    """PIDs of every living descendant of ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def listening_sockets_of_descendants() -> list[tuple[str, int]]:
    """``(local address, pid)`` of every listening TCP socket of a process this test started
    (``ss -ltnp``), IPv4 and IPv6."""
    mine = _descendants(os.getpid())
    output = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in output.splitlines():
        columns = line.split()
        local = columns[3]
        for pid in re.findall(r"pid=(\d+)", line):
            if int(pid) in mine:
                found.append((local, int(pid)))
    return found
