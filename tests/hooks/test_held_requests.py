"""The held-request pool against real servers on 127.0.0.1: an asyncio server scripted per
connection produces what the platform does not on demand (chunked and close-delimited bodies,
``Connection: close``, an idle connection closed by the server, a drop after the request, a
request never answered, TLS with an unknown certificate)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from craft_airflow.hooks.held_requests import HeldRequestPool, request_event
from craft_airflow.protocol.http import (
    FailureKind,
    HttpRequest,
    Response,
    Send,
    Timeouts,
    TransportFailure,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
#: Bound of a wait for the server to see something (a failing test fails, never hangs).
BOUND = 10.0
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class RawServer:
    """Runs ``handler(reader, writer)`` for each connection; records the requests' heads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.heads: list[bytes] = []
        self.closed_by_client = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def read_head(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        return head

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed_by_client.set()
        finally:
            writer.close()

    async def start(self, tls: ssl.SSLContext | None = None) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[tuple[RawServer, str]]]]:
    servers: list[RawServer] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> tuple[RawServer, str]:
        server = RawServer(handler)
        servers.append(server)
        return server, await server.start(tls)

    yield start
    for server in servers:
        await server.stop()


def unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def get(url: str, *, read: float = 5.0, bearer: str | None = "access-tok-held-1") -> Send:
    request = HttpRequest("GET", url, params=(("wait_for_completion", "true"),), long_poll=True)
    return Send(request, bearer, Timeouts(connect=2.0, read=read))


async def test_keep_alive_reuses_one_connection(serve):
    async def answer_twice(reader, writer):
        for _ in range(2):
            await server.read_head(reader)
            writer.write(OK)

    server, url = await serve(answer_twice)
    pool = HeldRequestPool(unverified(), keepalive=30)
    first = await pool.send(get(f"{url}/a"))
    second = await pool.send(get(f"{url}/b"))
    assert isinstance(first, Response) and isinstance(second, Response)
    assert (first.status, first.body, first.content_type) == (200, b"{}", "application/json")
    assert (server.connections, pool.connections_opened) == (1, 1)
    head = server.heads[0].decode()
    assert head.startswith("GET /a?wait_for_completion=true HTTP/1.1\r\n")
    assert "Authorization: Bearer access-tok-held-1" in head
    assert "Accept-Encoding: identity" in head  # nothing for h11 to decode
    pool.close()


async def test_chunked_and_close_delimited_bodies_are_read_whole(serve):
    async def chunked(reader, writer):
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLOCATION: /same\r\n")
        writer.write(b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")

    server, url = await serve(chunked)
    pool = HeldRequestPool(unverified(), keepalive=30)
    response = await pool.send(get(url))
    assert isinstance(response, Response)
    assert (response.status, response.body, response.header("Location")) == (307, b"abcde", "/same")

    async def until_close(reader, writer):
        await other.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\npart one, ")
        await writer.drain()
        writer.write(b"part two")

    other, other_url = await serve(until_close)
    response = await pool.send(get(other_url))
    assert isinstance(response, Response) and response.body == b"part one, part two"
    assert isinstance(await pool.send(get(other_url)), Response)
    assert other.connections == 2  # a close-delimited answer leaves nothing to reuse
    pool.close()


async def test_connection_close_is_not_reused(serve):
    async def close_after(reader, writer):
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")

    server, url = await serve(close_after)
    pool = HeldRequestPool(unverified(), keepalive=30)
    for _ in range(2):
        assert isinstance(await pool.send(get(url)), Response)
    assert (server.connections, pool.connections_opened) == (2, 2)


async def test_an_idle_connection_the_server_closed_is_replaced_once(serve):
    async def once_then_close(reader, writer):
        # Answers one request, then waits for the next one and closes without answering: what a
        # server whose keep-alive timeout ran out as the request went out does.
        await server.read_head(reader)
        writer.write(OK)
        await writer.drain()
        if server.connections == 1:
            await server.read_head(reader)

    server, url = await serve(once_then_close)
    pool = HeldRequestPool(unverified(), keepalive=30)
    assert isinstance(await pool.send(get(f"{url}/1")), Response)
    second = await pool.send(get(f"{url}/2"))
    assert isinstance(second, Response) and second.status == 200
    assert [h.split(b" ")[1] for h in server.heads] == [
        b"/1?wait_for_completion=true",
        b"/2?wait_for_completion=true",
        b"/2?wait_for_completion=true",
    ]
    assert pool.connections_opened == 2
    pool.close()


async def test_a_drop_after_the_request_is_no_answer_and_not_resent(serve):
    async def drop(reader, writer):
        await server.read_head(reader)

    server, url = await serve(drop)
    pool = HeldRequestPool(unverified(), keepalive=30)
    failure = await pool.send(get(url))
    assert isinstance(failure, TransportFailure) and failure.kind == FailureKind.NO_ANSWER
    assert len(server.heads) == 1  # a fresh connection: the transport does not send it again


async def test_a_drop_in_the_middle_of_the_answer_is_no_answer(serve):
    async def half(reader, writer):
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}")

    server, url = await serve(half)
    pool = HeldRequestPool(unverified(), keepalive=30)
    failure = await pool.send(get(url))
    assert isinstance(failure, TransportFailure) and failure.kind == FailureKind.NO_ANSWER


async def test_no_whole_answer_within_the_deadline(serve):
    async def hold(reader, writer):
        await server.read_head(reader)
        await reader.read()  # until the client gives up and closes
        server.closed_by_client.set()

    server, url = await serve(hold)
    pool = HeldRequestPool(unverified(), keepalive=30)
    failure = await pool.send(get(url, read=0.2))
    assert isinstance(failure, TransportFailure) and failure.kind == FailureKind.TOO_SLOW
    assert failure.detail == "no whole answer within 0.2 s"
    async with asyncio.timeout(BOUND):  # the timed-out connection is closed, not pooled
        await server.closed_by_client.wait()


async def test_a_cancelled_request_closes_its_connection(serve):
    held = asyncio.Event()

    async def hold(reader, writer):
        await server.read_head(reader)
        held.set()
        await reader.read()
        server.closed_by_client.set()

    server, url = await serve(hold)
    pool = HeldRequestPool(unverified(), keepalive=30)
    task = asyncio.create_task(pool.send(get(url)))
    await held.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(BOUND):
        await server.closed_by_client.wait()


async def test_idle_connections_close_after_the_keepalive(serve):
    async def answer(reader, writer):
        await server.read_head(reader)
        writer.write(OK)
        await writer.drain()
        await reader.read()  # b"" once the client closes the idle connection
        server.closed_by_client.set()

    server, url = await serve(answer)
    pool = HeldRequestPool(unverified(), keepalive=0.05)
    assert isinstance(await pool.send(get(url)), Response)
    async with asyncio.timeout(BOUND):
        await server.closed_by_client.wait()


async def test_refused_is_not_sent(closed_port_url):
    pool = HeldRequestPool(unverified(), keepalive=30)
    failure = await pool.send(get(closed_port_url))
    assert isinstance(failure, TransportFailure) and failure.kind == FailureKind.NOT_SENT


def self_signed(directory: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


async def test_tls_verified_unknown_certificate_is_fatal_and_trusted_one_works(serve, tmp_path):
    async def answer(reader, writer):
        await server.read_head(reader)
        writer.write(OK)

    server, url = await serve(answer, tls=self_signed(tmp_path))
    failure = await HeldRequestPool(ssl.create_default_context(), keepalive=30).send(get(url))
    assert isinstance(failure, TransportFailure) and failure.kind == FailureKind.FATAL
    assert "CERTIFICATE_VERIFY_FAILED" in failure.detail
    trusting = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    response = await HeldRequestPool(trusting, keepalive=30).send(get(url))
    assert isinstance(response, Response) and response.status == 200


def test_a_held_request_has_no_body():
    request = HttpRequest("POST", "http://127.0.0.1:1/x", json={"a": 1}, operation="post x")
    with pytest.raises(ValueError, match="post x: a held request has no body"):
        request_event(Send(request))


async def test_an_invalid_header_value_fails_without_quoting_it():
    pool = HeldRequestPool(unverified(), keepalive=30)
    failure = await pool.send(get("http://127.0.0.1:1/x", bearer="access-tok-held-2\r\nX: y"))
    assert isinstance(failure, TransportFailure) and failure.kind == FailureKind.FATAL
    assert "header value" in failure.detail and "access-tok-held-2" not in failure.detail
