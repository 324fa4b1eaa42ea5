"""Request descriptions and transport results exchanged between the protocol core and the
transports (requests for the sync hook, aiohttp for the async hook)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from craft_airflow.errors import CraftDeadlineExceeded, clean

#: The header naming the client; the transports give their name and version as its value (the
#: SDK sends "craft-ai-sdk@<version>"; no source says the platform checks it).
CLIENT_HEADER = "craft-ai-client"


class AuthKind(StrEnum):
    """Which credential the transport adds."""

    BEARER = "bearer"
    """``Authorization: Bearer <access token>`` from the token cache."""
    NONE = "none"
    """Nothing added (refresh, environment-info, endpoint-token calls carry their own)."""


class TimeoutKind(StrEnum):
    NORMAL = "normal"
    LONG_POLL = "long_poll"
    DOWNLOAD = "download"


#: The connection extra bounding one attempt of each kind of call (named in errors).
TIMEOUT_SETTINGS = {
    TimeoutKind.NORMAL: "request_timeout",
    TimeoutKind.LONG_POLL: "long_poll_timeout",
    TimeoutKind.DOWNLOAD: "transfer_timeout",
}
#: The connection extra bounding the size of an answer read into memory.
SIZE_SETTING = "max_response_bytes"


@dataclass(frozen=True)
class FileInput:
    """A file sent as a multipart part (named after the input it is for).

    :param filename: file name announced in the part.
    :param stream: an open binary stream.
    :param offset: where the file starts in ``stream``; ``None``: its current position (a
        request's parts always have one, so that a retry re-sends the same bytes).
    """

    filename: str
    stream: BinaryIO = field(repr=False)
    offset: int | None = None

    def rewound(self) -> BinaryIO:
        """Return the stream positioned at the start of the file."""
        if self.offset is not None:
            self.stream.seek(self.offset)
        return self.stream


#: A request's file parts: (part name, file), each file with its offset.
FileParts = tuple[tuple[str, FileInput], ...]


#: A non-seekable file input larger than this is spooled to a temporary file.
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
COPY_CHUNK_BYTES = 1024 * 1024


def file_parts(
    files: Mapping[str, FileInput | tuple[str, BinaryIO]] | None,
) -> FileParts:
    """Normalise file inputs into rewindable parts, so a retry can send them again.

    A non-seekable stream is copied once into a spool file that stays in memory only up to
    :data:`SPOOL_IN_MEMORY_BYTES`: a large piped input never sits whole in memory.
    """
    parts = []
    for name, value in (files or {}).items():
        item = value if isinstance(value, FileInput) else FileInput(*value)
        stream = item.stream
        seekable = False
        with contextlib.suppress(AttributeError, ValueError):
            seekable = stream.seekable()
        if seekable:
            offset = stream.tell() if item.offset is None else item.offset
        else:
            # Lives as long as the request's parts; removed when closed or collected.
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
            shutil.copyfileobj(stream, spool, COPY_CHUNK_BYTES)
            spool.seek(0)
            stream, offset = cast(BinaryIO, spool), 0
        parts.append((name, FileInput(item.filename, stream, offset)))
    return tuple(parts)


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP call to make, fully described, without I/O.

    :param method: HTTP method.
    :param url: absolute URL, without query.
    :param params: query parameters (may hold an endpoint token: never log them).
    :param headers: extra headers (may hold an EndpointToken: never log them).
    :param json: JSON body, when not ``None``.
    :param data: form fields (urlencoded, or text parts when ``files`` is set).
    :param files: multipart file parts.
    :param idempotent: safe to send again after an ambiguous failure.
    :param creates_execution: sending it twice may run the pipeline twice.
    :param long_poll: a 3xx answer means "not finished yet".
    :param timeout: which configured read timeout applies.
    :param auth: credential the transport adds.
    :param stream: the body is streamed to the caller rather than read at once.
    :param operation: short description for messages, e.g. ``"run pipeline 'p'"``.
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    json: Any = field(default=None, repr=False)
    data: Mapping[str, str] | None = field(default=None, repr=False)
    files: FileParts = ()
    idempotent: bool = True
    creates_execution: bool = False
    long_poll: bool = False
    timeout: TimeoutKind = TimeoutKind.NORMAL
    auth: AuthKind = AuthKind.BEARER
    stream: bool = False
    operation: str = ""

    def describe(self) -> str:
        """Method and path, safe for logs and errors (no query, no host credentials)."""
        return f"{self.method} {urlsplit(self.url).path}"

    def all_headers(self, bearer: str | None, client_id: str | None = None) -> dict[str, str]:
        """The request's headers with the credential and, when given, the client's name."""
        headers = {CLIENT_HEADER: client_id} if client_id else {}
        headers.update(self.headers)
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        return headers


class FailureKind(StrEnum):
    """What went wrong when no HTTP answer came back."""

    NOT_SENT = "not_sent"
    """Provably never reached the server: connection refused, DNS failure, connect timeout."""
    NO_ANSWER = "no_answer"
    """Sent (perhaps partly), no answer: read timeout, reset, disconnect. Ambiguous."""
    FATAL = "fatal"
    """Will not get better by retrying: TLS verification failure, invalid URL."""
    TOO_LARGE = "too_large"
    """The answer was larger than the step's ``max_bytes``: reading stopped there."""
    TOO_SLOW = "too_slow"
    """No whole answer within the step's total deadline (sent: ambiguous, like NO_ANSWER)."""


@dataclass(frozen=True)
class TransportFailure:
    """No usable answer: what is known of why (``status``: of a too large answer)."""

    kind: FailureKind
    detail: str
    status: int | None = None


#: Longest :attr:`TransportFailure.detail`.
DETAIL_CHARS = 300


def describe_exception(exc: BaseException) -> str:
    """A short, redacted ``Type: message`` of a transport exception, for a failure's detail."""
    # Redacted before cutting: the error's own redaction cannot recognise half a secret.
    text = clean(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def transfer_too_slow(operation: str, written: int, seconds: float) -> CraftDeadlineExceeded:
    """The error of a streamed download that outlived ``transfer_timeout`` (both hooks)."""
    return CraftDeadlineExceeded(
        f"{operation} failed: the download did not end within {seconds:g} s "
        f"(connection extra transfer_timeout={seconds:g}); stopped after {written} bytes"
    )


@dataclass(frozen=True)
class Response:
    """An HTTP answer as the protocol core sees it.

    :param body: the body (empty for a streamed 2xx: the transport keeps ``raw`` open).
    :param elapsed: seconds between sending and the answer's headers.
    :param raw: the transport's own response object (streamed downloads only).
    """

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(default=b"", repr=False)
    elapsed: float = 0.0
    raw: Any = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def content_type(self) -> str:
        return self.header("content-type") or ""


@dataclass(frozen=True)
class Timeouts:
    """Time bounds of one attempt.

    :param connect: to open the connection.
    :param read: between two reads.
    :param total: the whole attempt (sending, headers, the whole body; for a streamed
        download, every byte of it), ``None``: none.
    :param bound: the setting ``total`` comes from, for messages (e.g. ``request_timeout=5``).
    """

    connect: float
    read: float
    total: float | None = None
    bound: str = ""


@dataclass(frozen=True)
class Send:
    """Step: send ``request`` (adding ``bearer`` when set) and return the answer or failure.

    :param max_bytes: the largest body read into memory (not applied to a streamed 2xx).
    """

    request: HttpRequest
    bearer: str | None = field(default=None, repr=False)
    timeouts: Timeouts = Timeouts(10.0, 30.0)
    max_bytes: int | None = None

    def too_large(self, status: int) -> TransportFailure:
        """The failure of an answer larger than :attr:`max_bytes`."""
        return TransportFailure(
            FailureKind.TOO_LARGE,
            f"the answer is larger than {self.max_bytes} bytes (connection extra "
            f"{SIZE_SETTING}={self.max_bytes}); reading stopped there",
            status,
        )

    def too_slow(self) -> TransportFailure:
        """The failure of an attempt that outlived :attr:`Timeouts.total`."""
        total = self.timeouts.total if self.timeouts.total is not None else self.timeouts.read
        bound = f" ({self.timeouts.bound})" if self.timeouts.bound else ""
        return TransportFailure(FailureKind.TOO_SLOW, f"no whole answer within {total:g} s{bound}")

    def body_fits(self, size: int) -> bool:
        """Whether a body of ``size`` bytes fits :attr:`max_bytes`."""
        return self.max_bytes is None or size <= self.max_bytes


@dataclass(frozen=True)
class Sleep:
    """Step: wait this many seconds, then resume with ``None``."""

    seconds: float


Step = Send | Sleep
Result = Response | TransportFailure
