"""Held requests (outputs and endpoint results): wait for the end, else ``307`` to come back."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import Response

from craft_local.state import Platform
from craft_local.store import TERMINAL_STATUSES


async def wait_terminal(platform: Platform, execution_id: str, seconds: float) -> str | None:
    """Poll the status (cheap SQLite read) until terminal or ``seconds`` have passed (or the
    platform is stopping); return the last status, ``None`` if the execution is gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        status = platform.store.get_status(execution_id)
        remaining = deadline - loop.time()
        if (
            status is None
            or status in TERMINAL_STATUSES
            or remaining <= 0
            or platform.stopping.is_set()
        ):
            return status
        await asyncio.sleep(min(0.05, remaining))


def redirect_to_self(request: Request) -> Response:
    """``307`` to the same path and query: "not finished yet, ask again"."""
    location = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Response(status_code=307, headers={"Location": location})
