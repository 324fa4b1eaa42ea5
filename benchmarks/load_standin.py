"""A load stand-in of the Craft AI platform: only the calls a wait makes, cheap enough for
10,000 concurrent waits in one process.

An asyncio HTTP/1.1 server (keep-alive, no framework) on 127.0.0.1 that answers:

- ``POST /api/v1/auth/refresh`` (§2.1): a JWT with ``iat``/``exp`` (``token_lifetime`` seconds);
- ``GET /api/v1/executions/{id}`` (§5.3): ``Running`` until the execution's end, then its status
  (``status_lag`` seconds later: a replicated platform whose status read trails its outputs);
- ``GET /api/v1/executions/{id}/outputs?wait_for_completion=true`` (§5.4): held until the end
  (200 with the outputs) or for ``hold`` seconds (307 to the same URL);
- ``POST /api/v1/executions/{id}/logs`` (§5.7): the execution prints a line every
  ``log_every`` seconds from its registration to its end; ``from`` / ``to`` / ``limit`` honoured
  as the contract says (whole milliseconds, bounds included, the first lines);
- ``GET /standin/stats``: request counts by kind and the refreshes made.

Executions are scheduled, not run: :meth:`LoadStandIn.schedule` gives an id a wall-clock end
time and a final status; a timer wakes the long-polls held on it at that time. Bearer tokens are
checked against the ones it issued (an expired or unknown one gets 401).

Usage (a separate process, so the waits' process is measured alone)::

    python benchmarks/load_standin.py --count 10000 --hold 20

prints ``READY <port>`` once listening. ``exec-<i>`` (``0 <= i < count``) run until
``POST /standin/start {"delay": D, "spread": S}``, then end evenly over ``S`` seconds from ``D``
seconds later (the answer holds the first end's wall-clock time); every ``--fail-every``-th
fails. ``GET /standin/stats`` also gives the number of long-polls held right now.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

SDK_TOKEN = "standin-sdk-token-7f3a"


@dataclass
class _Execution:
    end: float
    status: str
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = field(default_factory=time.time)


def _stamp(ms: int) -> str:
    moment = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{ms % 1000:03d}Z"


def log_page(
    execution_id: str,
    started: float,
    until: float,
    every: float,
    bounds: dict[str, Any],
) -> list[dict[str, str]]:
    """The lines an execution printed (one every ``every`` seconds from ``started`` to
    ``until``) within the bounds of a §5.7 body."""
    first_ms, last_ms = int(started * 1000), int(until * 1000)
    step_ms = max(1, int(every * 1000))
    low = max(first_ms, int(bounds.get("from") or first_ms))
    high = min(last_ms, int(bounds["to"])) if bounds.get("to") is not None else last_ms
    k = max(0, -(-(low - first_ms) // step_ms))
    limit = bounds.get("limit")
    lines = []
    while first_ms + k * step_ms <= high and (limit is None or len(lines) < int(limit)):
        ms = first_ms + k * step_ms
        lines.append({"timestamp": _stamp(ms), "message": f"{execution_id} line {k}"})
        k += 1
    return lines


class LoadStandIn:
    """The server; use ``async with LoadStandIn(...) as s`` or :meth:`start` / :meth:`stop`.

    :param hold: seconds a long-poll is held before a 307.
    :param token_lifetime: ``exp - iat`` of the access tokens it issues.
    :param status_lag: seconds the status read stays ``Running`` after the outputs answered.
    :param log_every: seconds between two log lines of an execution.
    """

    def __init__(
        self,
        *,
        hold: float = 5.0,
        token_lifetime: float = 3600.0,
        sdk_token: str = SDK_TOKEN,
        status_lag: float = 0.0,
        log_every: float = 1.0,
    ) -> None:
        self.hold = hold
        self.status_lag = status_lag
        self.log_every = log_every
        self.token_lifetime = token_lifetime
        self.sdk_token = sdk_token
        self.counts: Counter[str] = Counter()
        self.connections = 0
        #: Long-polls being held right now.
        self.held = 0
        self._issued: dict[str, float] = {}
        self._executions: dict[str, _Execution] = {}
        self._key = secrets.token_hex(16)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for execution in self._executions.values():
                execution.ended.set()  # release held long-polls
            await self._server.wait_closed()

    async def __aenter__(self) -> LoadStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def schedule(self, execution_id: str, end: float, status: str = "Succeeded") -> None:
        """``execution_id`` is ``Running`` until wall-clock ``end``, then ``status``."""
        execution = self._executions[execution_id] = _Execution(end, status)
        loop = asyncio.get_running_loop()
        delay = max(0.0, end - time.time())
        loop.call_at(loop.time() + delay, execution.ended.set)

    def register(self, execution_id: str, status: str = "Succeeded") -> None:
        """``execution_id`` is ``Running`` until :meth:`start_ends` schedules its end."""
        self._executions[execution_id] = _Execution(float("inf"), status)

    def start_ends(self, delay: float, spread: float) -> float:
        """End the registered, unscheduled executions evenly over ``spread`` seconds from
        ``delay`` seconds from now, in registration order; return the first end (wall clock)."""
        first = time.time() + delay
        pending = [(i, e) for i, e in self._executions.items() if e.end == float("inf")]
        loop = asyncio.get_running_loop()
        for n, (_, execution) in enumerate(pending):
            execution.end = first + spread * n / max(1, len(pending))
            loop.call_at(loop.time() + execution.end - time.time(), execution.ended.set)
        return first

    def revoke_tokens(self) -> None:
        """Refuse every token issued so far (as after a signing-key rotation)."""
        self._issued.clear()

    # -- HTTP ---------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                status, extra, payload = await self._answer(method, target, headers, body)
                self._write(writer, status, extra, payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # the server is stopping
            pass
        finally:
            writer.close()

    @staticmethod
    def _write(
        writer: asyncio.StreamWriter, status: int, headers: dict[str, str], payload: bytes
    ) -> None:
        reason = {200: "OK", 307: "Temporary Redirect", 401: "Unauthorized", 404: "Not Found"}
        out = [f"HTTP/1.1 {status} {reason.get(status, 'Error')}"]
        out.append(f"Content-Length: {len(payload)}")
        out += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + payload)

    @staticmethod
    def _json(status: int, data: Any) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(data).encode()

    def _authorized(self, headers: dict[str, str]) -> bool:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        expires = self._issued.get(token)
        return expires is not None and time.time() < expires

    async def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        if method == "POST" and path == "/api/v1/auth/refresh":
            self.counts["refresh"] += 1
            if json.loads(body or b"{}").get("refresh_token") != self.sdk_token:
                return self._json(401, {"message": "Invalid refresh token"})
            now = int(time.time())
            token = jwt.encode(
                {"iat": now, "exp": now + int(self.token_lifetime), "jti": secrets.token_hex(4)},
                self._key,
                algorithm="HS256",
            )
            self._issued[token] = now + self.token_lifetime
            return self._json(200, {"access_token": token})
        if path == "/standin/stats":
            stats = {"counts": dict(self.counts), "connections": self.connections}
            return self._json(200, {**stats, "held": self.held})
        if method == "POST" and path == "/standin/start":
            args = json.loads(body or b"{}")
            return self._json(200, {"first_end": self.start_ends(args["delay"], args["spread"])})
        segments = path.split("/")
        if segments[:4] != ["", "api", "v1", "executions"] or len(segments) < 5:
            self.counts["other"] += 1
            return self._json(404, {"message": f"No route {method} {path}"})
        if not self._authorized(headers):
            self.counts["unauthorized"] += 1
            return self._json(401, {"message": "Invalid or expired token"})
        execution_id = segments[4]
        execution = self._executions.get(execution_id)
        if execution is None:
            self.counts["not_found"] += 1
            return self._json(404, {"message": f"Execution {execution_id} not found"})
        rest = segments[5:]
        if method == "GET" and not rest:
            self.counts["get_execution"] += 1
            ended = execution.ended.is_set() and time.time() >= execution.end + self.status_lag
            status = execution.status if ended else "Running"
            return self._json(200, {"execution_id": execution_id, "status": status})
        if method == "GET" and rest == ["outputs"]:
            if parse_qs(parts.query).get("wait_for_completion") == ["true"]:
                self.held += 1
                try:
                    await asyncio.wait_for(execution.ended.wait(), self.hold)
                except TimeoutError:
                    self.counts["outputs_307"] += 1
                    return 307, {"Location": target}, b""
                finally:
                    self.held -= 1
            self.counts["outputs"] += 1
            outputs = [
                {
                    "pipeline_output_name": "result",
                    "data_type": "string",
                    "mapping_type": "run",
                    "value": execution_id,
                }
            ]
            return self._json(200, {"outputs": outputs})
        if method == "POST" and rest == ["logs"]:
            self.counts["logs"] += 1
            bounds = json.loads(body or b"{}")
            until = min(time.time(), execution.end)
            lines = log_page(execution_id, execution.started, until, self.log_every, bounds)
            return self._json(200, [lines])
        self.counts["other"] += 1
        return self._json(404, {"message": f"No route {method} {path}"})


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def _main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    standin = LoadStandIn(
        hold=args.hold,
        token_lifetime=args.token_lifetime,
        status_lag=args.status_lag,
        log_every=args.log_every,
    )
    await standin.start(args.port)
    for i in range(args.count):
        failed = args.fail_every and i % args.fail_every == args.fail_every - 1
        standin.register(f"exec-{i}", "Failed" if failed else "Succeeded")
    print(f"READY {standin.port}", flush=True)
    await asyncio.Event().wait()  # until SIGTERM


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--token-lifetime", type=float, default=3600.0)
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--status-lag", type=float, default=0.0)
    parser.add_argument("--log-every", type=float, default=1.0)
    try:
        asyncio.run(_main(parser.parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)
