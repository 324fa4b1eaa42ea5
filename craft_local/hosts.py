"""The ``Host`` allow-list: a defence against DNS rebinding.

A web page can point a name it controls at 127.0.0.1 and then read what the platform serves
without a token on loopback (the pages, file downloads). Its requests still carry its own name
in ``Host``, so only the names under which the platform is really reached are answered: the
loopback names (``localhost``, ``127.0.0.1`` and the other spellings of a loopback address,
``[::1]``), the listening address when it is an IP literal, and the host of every configured
URL (``--public-url``, the Kubernetes runtime's ``--pod-platform-url``). Any other ``Host``, or
none, gets a 400 before anything else runs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from craft_local.errors import error_body

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def host_name(host_header: str) -> str:
    """The name or address of a ``Host`` value: port and brackets off, normalised.

    Letters are folded (NFKC, lower case, IDNA), a trailing dot dropped, and an IPv4 address
    in any spelling ``inet_aton`` reads (``2130706433``, ``0x7f.1``) written as a dotted quad.
    """
    text = unicodedata.normalize("NFKC", host_header).strip().lower()
    if text.startswith("["):
        name = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:
        name = text.partition(":")[0]
    else:
        name = text
    name = name.rstrip(".")
    with contextlib.suppress(UnicodeError):
        name = name.encode("idna").decode("ascii")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(name))
    except (OSError, ValueError):
        return name


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_names(listen_host: str, urls: Iterable[str | None]) -> frozenset[str]:
    """The names answered besides loopback: the listening address if it is an IP literal, and
    the host of each URL in ``urls`` (``None`` entries are skipped)."""
    names = set()
    try:
        ipaddress.ip_address(listen_host)
    except ValueError:
        pass
    else:
        names.add(host_name(listen_host if ":" not in listen_host else f"[{listen_host}]"))
    for url in urls:
        if url:
            netloc = urlsplit(url).netloc.rpartition("@")[2]
            if netloc:
                names.add(host_name(netloc))
    return frozenset(names)


class HostAllowList:
    """Answer 400 to a request whose ``Host`` is neither loopback nor one of ``names``.

    :param app: the wrapped ASGI app.
    :param names: names (as :func:`host_name` gives them) answered besides loopback.
    """

    def __init__(self, app: ASGIApp, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this ``Host`` value is answered."""
        if not host_header:
            return False
        name = host_name(host_header)
        return _is_loopback(name) or name in self.names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v for k, v in scope["headers"] if k == b"host"), None)
        text = host.decode("latin-1") if host is not None else None
        if self.allows(text):
            await self.app(scope, receive, send)
            return
        shown = "no Host header" if text is None else f"Host {text[:100]!r}"
        message = (
            f"{shown} is not a name of this platform: it answers its loopback names and the"
            " configured public URL (--public-url)."
        )
        body = json.dumps(error_body("HostNotAllowed", message, "NO_REQUEST_ID")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
