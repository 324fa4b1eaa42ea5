"""craft_airflow.inputs.files: opening file sources as streams."""

from __future__ import annotations

import io
from contextlib import ExitStack
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from craft_airflow.errors import CraftInputError
from craft_airflow.inputs.files import open_file_input


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "input file.txt"
    path.write_bytes(b"some content")
    return path


@pytest.mark.parametrize(
    "as_value",
    [
        str,
        lambda p: p,
        lambda p: p.as_uri(),
        lambda p: f"file://{p}",
        lambda p: ObjectStoragePath(f"file://{p}"),
    ],
    ids=["str-path", "Path", "encoded-file-uri", "plain-file-uri", "ObjectStoragePath"],
)
def test_file_sources_are_opened_as_streams(document: Path, as_value):
    with ExitStack() as stack:
        file_input = open_file_input("doc", as_value(document), stack)
        assert file_input.filename == "input file.txt"
        assert not isinstance(file_input.stream, io.BytesIO)  # streamed from the file
        assert file_input.stream.read() == b"some content"
    assert file_input.stream.closed


def test_bytes_and_streams(document: Path):
    with ExitStack() as stack:
        from_bytes = open_file_input("doc", b"raw", stack)
        assert (from_bytes.filename, from_bytes.stream.read()) == ("doc", b"raw")
        with document.open("rb") as handle:
            from_stream = open_file_input("doc", handle, stack)
            assert from_stream.filename == "input file.txt"
            assert from_stream.stream is handle


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/no/such/file.txt", r"file input 'doc': no such file: '/no/such/file.txt'"),
        ("file:///no/such/file.txt", "file input 'doc': no such file"),
        (
            42,
            "expected a path, a storage URI, an ObjectStoragePath, bytes or a binary stream, got "
            "int",
        ),
    ],
)
def test_file_source_errors(value, message):
    with ExitStack() as stack, pytest.raises(CraftInputError, match=message):
        open_file_input("doc", value, stack)


def test_a_folder_is_not_a_file(tmp_path: Path):
    with ExitStack() as stack, pytest.raises(CraftInputError, match="is a directory"):
        open_file_input("doc", str(tmp_path), stack)
