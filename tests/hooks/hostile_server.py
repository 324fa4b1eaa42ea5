"""A server on 127.0.0.1 built to misbehave: it answers the token refresh, then every other
request with an oversized, endless or trickling body. Runs its own event loop in a thread;
stopped (listening socket and every connection closed) when the ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

#: What a hostile answer is.
MODES = ("oversized", "endless", "trickle")
#: The size an oversized answer declares (2 GiB, as in the measurements that found the issue).
DECLARED_BYTES = 2 * 1024**3
#: An endless body stops after this much, to protect the machine from a client without bounds.
ENDLESS_SAFETY_BYTES = 1024**3
#: Seconds between two bytes of a trickling body.
TRICKLE_INTERVAL = 1.0
_CHUNK = b"[" * 65536


class HostileServer:
    """``with HostileServer("endless") as server: server.url``; ``server.sent``: body bytes
    written per hostile answer."""

    def __init__(self, mode: str) -> None:
        assert mode in MODES
        self.mode = mode
        self.sent: list[int] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def __enter__(self) -> HostileServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                await reader.readexactly(length)
                if "/auth/refresh" in request_line:
                    body = json.dumps({"access_token": "hostile-access-token"}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
                    await writer.drain()
                    continue
                await self._misbehave(writer)
                return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _misbehave(self, writer: asyncio.StreamWriter) -> None:
        index = len(self.sent)
        self.sent.append(0)
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if self.mode == "oversized":
            writer.write(f"{head}Content-Length: {DECLARED_BYTES}\r\n\r\n".encode())
            while self.sent[index] < DECLARED_BYTES:
                writer.write(_CHUNK)
                self.sent[index] += len(_CHUNK)
                await writer.drain()
        elif self.mode == "endless":
            writer.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
            frame = f"{len(_CHUNK):x}\r\n".encode() + _CHUNK + b"\r\n"
            while self.sent[index] < ENDLESS_SAFETY_BYTES:
                writer.write(frame)
                self.sent[index] += len(_CHUNK)
                await writer.drain()
        else:
            writer.write(f"{head}Content-Length: 100000\r\n\r\n".encode())
            while self.sent[index] < 100000:
                writer.write(b"[")
                self.sent[index] += 1
                await writer.drain()
                await asyncio.sleep(TRICKLE_INTERVAL)  # the misbehaviour itself
