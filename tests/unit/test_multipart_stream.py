"""File inputs are streamed by the sync hook: the multipart body reads each file a chunk at a
time, and encodes the same parts ``requests`` would."""

from __future__ import annotations

import io
from email.parser import BytesParser

import requests

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.hooks.craft import CHUNK_SIZE, MultipartBody, requests_kwargs
from craft_airflow.inputs.files import FileInput
from craft_airflow.protocol.builders import build_run_pipeline
from craft_airflow.protocol.http import Send, Timeouts, file_parts

CONFIG = CraftConnectionConfig(
    environment_url="https://env.example.com",
    control_url="https://ctl.example.com",
    sdk_token="sdk-secret-token-1",
    conn_id="c",
)


class ChunkOnly(io.BytesIO):
    """A file that refuses to be read whole and records the largest read."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and 0 <= size <= CHUNK_SIZE, f"read({size})"
        self.largest = max(self.largest, size)
        return super().read(size)


def parts(content_type: str, body: bytes) -> list[tuple[str | None, str | None, bytes]]:
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return [
        (
            p.get_param("name", header="content-disposition"),
            p.get_filename(),
            p.get_payload(decode=True),
        )
        for p in message.get_payload()
    ]


def test_files_are_read_a_chunk_at_a_time_and_encoded_like_requests():
    data = bytes(range(256)) * (3 * CHUNK_SIZE // 256 + 7)
    big, small = ChunkOnly(data), io.BytesIO(b"tiny")
    small.read(1)  # parts start where the stream was
    body = MultipartBody(
        {"json_inputs": '{"n": 1}'},
        file_parts({"doc": FileInput("doc é.bin", big), "other": ("o.txt", small)}),
    )
    sent = b"".join(body)
    assert len(body) == len(sent)
    assert 0 < big.largest <= CHUNK_SIZE

    expected = requests.Request(
        "POST",
        "http://x/",
        data={"json_inputs": '{"n": 1}'},
        files={"doc": ("doc é.bin", io.BytesIO(data)), "other": ("o.txt", io.BytesIO(b"iny"))},
    ).prepare()
    assert parts(body.content_type, sent) == parts(expected.headers["Content-Type"], expected.body)


def test_request_kwargs_stream_files_with_a_content_length():
    stream = io.BytesIO(b"x" * 10)
    request = build_run_pipeline(CONFIG, "p", inputs={"n": 1}, files={"f": ("f.bin", stream)})
    kwargs = requests_kwargs(Send(request, None, Timeouts(1, 1)))
    assert "files" not in kwargs
    prepared = requests.Request(
        **{k: v for k, v in kwargs.items() if k not in ("allow_redirects", "timeout", "stream")}
    ).prepare()
    assert prepared.headers["Content-Type"] == kwargs["data"].content_type
    assert prepared.headers["Content-Length"] == str(len(kwargs["data"]))
    assert "Transfer-Encoding" not in prepared.headers
    sent = parts(prepared.headers["Content-Type"], b"".join(prepared.body))
    assert ("f", "f.bin", b"x" * 10) in sent
    assert ("json_inputs", None, b'{"n": 1}') in sent


class Pipe(io.RawIOBase):
    """A non-seekable stream (like a pipe) that records the largest read."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.largest = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        self.largest = max(self.largest, len(buffer))
        return self._data.readinto(buffer)


def test_a_large_non_seekable_input_is_spooled_to_disk_not_memory():
    from craft_airflow.protocol.http import COPY_CHUNK_BYTES, SPOOL_IN_MEMORY_BYTES

    data = bytes(range(256)) * ((SPOOL_IN_MEMORY_BYTES + 4096) // 256)
    pipe = Pipe(data)
    (part,) = file_parts({"doc": ("doc.bin", pipe)})  # type: ignore[dict-item]
    assert pipe.largest <= COPY_CHUNK_BYTES
    assert part.stream._rolled  # type: ignore[attr-defined]  # on disk past the threshold
    assert part.stream.read() == data


def test_a_small_non_seekable_input_stays_in_memory_and_rewinds():
    (part,) = file_parts({"doc": ("doc.bin", Pipe(b"hello"))})  # type: ignore[dict-item]
    assert not part.stream._rolled  # type: ignore[attr-defined]
    assert part.stream.read() == b"hello"
