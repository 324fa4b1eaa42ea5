"""Held requests (outputs and endpoint results): wait for the end, else ``307`` to come back."""

from __future__ import annotations

import asyncio
import threading

from fastapi import Request
from fastapi.responses import Response

from craft_local.store import TERMINAL_STATUSES, Store

#: Seconds between two looks at the statuses that held requests wait for.
TICK_SECONDS = 0.05
#: Executions per status query (below SQLite's limit of bound parameters).
QUERY_CHUNK = 500


class HeldStatuses:
    """The executions that held requests wait for, looked at together: one status query per tick
    for all of them, so that 1,000 held requests cost one query every 50 ms, not 20,000 a
    second.

    :param store: where the statuses are read.
    :param stopping: set when the platform stops: every held request is answered then.
    """

    def __init__(self, store: Store, stopping: threading.Event) -> None:
        self.store = store
        self.stopping = stopping
        self._waiters: dict[str, set[asyncio.Future[str | None]]] = {}
        self._ticker: asyncio.Task[None] | None = None

    async def wait(self, execution_id: str, seconds: float) -> str | None:
        """Wait until the status is terminal, the execution gone (``None``) or the platform
        stopping, at most ``seconds``; return the status then."""
        status = self.store.get_status(execution_id)
        if status is None or status in TERMINAL_STATUSES or seconds <= 0 or self.stopping.is_set():
            return status
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()
        self._waiters.setdefault(execution_id, set()).add(future)
        if self._ticker is None or self._ticker.done() or self._ticker.get_loop() is not loop:
            self._ticker = loop.create_task(self._tick())
        try:
            return await asyncio.wait_for(future, seconds)
        except TimeoutError:
            return self.store.get_status(execution_id)
        finally:
            waiting = self._waiters.get(execution_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiters[execution_id]

    async def _tick(self) -> None:
        while self._waiters:
            await asyncio.sleep(TICK_SECONDS)
            ids = list(self._waiters)
            statuses: dict[str, str] = {}
            for start in range(0, len(ids), QUERY_CHUNK):
                statuses.update(self.store.get_statuses(ids[start : start + QUERY_CHUNK]))
            stopping = self.stopping.is_set()
            for execution_id in ids:
                status = statuses.get(execution_id)
                if status is not None and status not in TERMINAL_STATUSES and not stopping:
                    continue
                for future in self._waiters.get(execution_id, ()):
                    if not future.done():
                        future.set_result(status)


def redirect_to_self(request: Request) -> Response:
    """``307`` to the same path and query: "not finished yet, ask again"."""
    location = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Response(status_code=307, headers={"Location": location})
