"""Request body size limit (413 with the JSON error body)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craft_local.errors import PlatformError, error_body


def too_large(max_bytes: int, what: str = "The request body") -> PlatformError:
    """The 413 error for bodies above ``max_bytes``.

    :param what: which bodies the limit applies to, for the message.
    """
    return PlatformError(
        413, "PayloadTooLarge", f"{what}: larger than the limit of {max_bytes} bytes."
    )


class BodySizeLimit:
    """Refuse bodies above ``max_bytes``: at once from ``Content-Length``, else while reading.

    :param app: the wrapped ASGI app.
    :param max_bytes: largest accepted body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _reply_413(send, self.max_bytes)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route while it reads the body: the error handler
                    # turns it into the JSON 413.
                    raise too_large(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)


async def _reply_413(send: Send, max_bytes: int) -> None:
    error = too_large(max_bytes)
    body = json.dumps(error_body(error.name, error.message, "NO_REQUEST_ID")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
