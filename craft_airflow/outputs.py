"""Outputs of a Craft execution as XCom values; file outputs streamed to object storage.

A file output never goes through memory whole: it is streamed from the platform into an
``ObjectStoragePath`` and XCom holds the location's URI, which the next Craft task accepts as a
file input. The default location is
``file://{AIRFLOW_HOME}/craft_outputs/{dag_id}/{run_id}/{task_id}[/{map_index}]/{execution_id}/{name}``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, cast

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

log = logging.getLogger(__name__)

#: Downloads one file output into the given binary sink, returning the number of bytes written.
Download = Callable[[str, BinaryIO], int]

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def safe_component(value: object) -> str:
    """Make ``value`` usable as one path segment on any storage (no separators, no dot names)."""
    # No separators, no leading dot (hidden files, "." and ".."), never empty.
    return (_UNSAFE.sub("_", str(value)).strip("_.") or "_")[:200]


def default_output_base() -> ObjectStoragePath:
    """``file://{AIRFLOW_HOME}/craft_outputs``."""
    from airflow.sdk import ObjectStoragePath

    home = os.path.abspath(os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow")))
    return ObjectStoragePath(f"file://{home}/craft_outputs")


def resolve_output_base(*candidates: str | ObjectStoragePath | None) -> ObjectStoragePath:
    """The first configured base among ``candidates`` (operator, then connection), or the default.

    A string without a scheme is a local folder.
    """
    from airflow.sdk import ObjectStoragePath

    for candidate in candidates:
        if candidate is None or candidate == "":
            continue
        if isinstance(candidate, ObjectStoragePath):
            return candidate
        text = str(candidate)
        if "://" not in text:
            text = "file://" + os.path.abspath(os.path.expanduser(text))
        return ObjectStoragePath(text)
    return default_output_base()


def execution_output_dir(
    base: ObjectStoragePath, context: Context, execution_id: str
) -> ObjectStoragePath:
    """``base/{dag_id}/{run_id}/{task_id}[/{map_index}]/{execution_id}``, each segment made safe."""
    ti: Any = context["ti"]
    parts = [ti.dag_id, ti.run_id, ti.task_id]
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        parts.append(str(map_index))
    parts.append(execution_id)
    path = base
    for part in parts:
        path = path / safe_component(part)
    return path


def stream_to_storage(dest: ObjectStoragePath, download: Callable[[BinaryIO], int]) -> str:
    """Stream one file into ``dest`` with ``download(sink)`` and return the location's URI.

    :raises CraftError: naming the output and the location when storage refuses the file.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        opened = dest.open("wb")
    except OSError as err:
        raise _storage_error(dest, err) from None
    try:
        with opened as sink:
            size = download(cast(BinaryIO, _StorageSink(dest, sink)))
    except BaseException:
        _remove_partial(dest)
        raise
    log.info("Stored file output at %s (%s bytes)", dest, size)
    return str(dest)


class _StorageSink:
    """The file being written, whose refused writes (a full disk) name the output and where."""

    def __init__(self, dest: ObjectStoragePath, sink: Any) -> None:
        self._dest = dest
        self._sink = sink

    def write(self, chunk: bytes) -> int:
        try:
            return int(self._sink.write(chunk) or 0)
        except OSError as err:
            raise _storage_error(self._dest, err) from None


def _remove_partial(dest: ObjectStoragePath) -> None:
    try:
        dest.unlink(missing_ok=True)
    except Exception:  # the original error is the one to report
        log.debug("Could not remove the partial file %s", dest, exc_info=True)


def _storage_error(dest: ObjectStoragePath, err: OSError) -> Exception:
    from craft_airflow.errors import CraftError

    reason = err.strerror or str(err) or type(err).__name__
    return CraftError(
        f"Cannot store file output {dest.name!r} at {str(dest)!r}: {type(err).__name__}: "
        f"{reason}. Expected a writable location: check output_storage (operator argument or "
        "the connection's 'output_storage' extra). The execution's outputs stay on the platform."
    )


def plan_run_outputs(
    items: Sequence[Mapping[str, Any]], *, endpoint_names: bool = False
) -> list[tuple[str, str | None, Any]]:
    """What to do with each §5.4 item: ``(key, file output name to fetch or None, value)``.

    A file output sent to the data store or discarded (``mapping_type`` ``datastore`` /
    ``is_null``) has no bytes to fetch: its value is ``None``.

    :param endpoint_names: key endpoint-mapped outputs by their endpoint output name, as the
        endpoint caller sees them.
    """
    plan: list[tuple[str, str | None, Any]] = []
    for item in items:
        name = item.get("pipeline_output_name") or item.get("name")
        if not name:
            continue
        key = name
        mapping_value = item.get("mapping_value")
        if endpoint_names and isinstance(mapping_value, Mapping):
            key = mapping_value.get("endpoint_output_name") or name
        if item.get("data_type") == "file":
            fetch = None if item.get("mapping_type") in ("datastore", "is_null") else name
            plan.append((key, fetch, None))
        else:
            plan.append((key, None, item.get("value")))
    return plan


def collect_run_outputs(
    items: Sequence[Mapping[str, Any]],
    *,
    download: Download,
    dest_dir: ObjectStoragePath,
    endpoint_names: bool = False,
) -> dict[str, Any]:
    """Outputs from §5.4 items: values as they are, run/endpoint-mapped files streamed to storage
    (see :func:`plan_run_outputs`).

    :param download: ``download(pipeline_output_name, sink)``.
    """
    result: dict[str, Any] = {}
    for key, fetch, value in plan_run_outputs(items, endpoint_names=endpoint_names):
        if fetch is None:
            result[key] = value
        else:
            result[key] = stream_to_storage(
                dest_dir / safe_component(key), functools.partial(download, fetch)
            )
    return result


def collect_endpoint_outputs(
    outputs: Mapping[str, Any], *, download_url: Download, dest_dir: ObjectStoragePath
) -> dict[str, Any]:
    """Outputs from an endpoint result body (§7.2), keyed by endpoint output name: values
    unwrapped, file URLs streamed to storage (``None`` for a null URL)."""
    from craft_airflow.protocol.readers import unwrap_endpoint_output

    result: dict[str, Any] = {}
    for name, raw in outputs.items():
        output = unwrap_endpoint_output(raw)
        if output.kind == "file" and output.url is not None:
            result[name] = stream_to_storage(
                dest_dir / safe_component(name), functools.partial(download_url, output.url)
            )
        else:
            result[name] = output.value
    return result


# -- the same, on the triggerer's event loop -----------------------------------------------------

#: Downloads one file output through the given async chunk writer, returning the bytes written.
AsyncDownload = Callable[[Callable[[bytes], Awaitable[object]]], Awaitable[int]]


async def astream_to_storage(dest: ObjectStoragePath, download: AsyncDownload) -> str:
    """:func:`stream_to_storage` for the event loop: the download runs on the loop, every storage
    call (folder, open, each chunk's write, close, cleanup) in a worker thread."""
    try:
        await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
        sink = await asyncio.to_thread(dest.open, "wb")
    except OSError as err:
        raise _storage_error(dest, err) from None
    try:
        try:
            write: Any = _StorageSink(dest, sink).write
            size = await download(functools.partial(asyncio.to_thread, write))
        finally:
            await asyncio.to_thread(sink.close)
    except BaseException:
        await asyncio.to_thread(_remove_partial, dest)
        raise
    log.info("Stored file output at %s (%s bytes)", dest, size)
    return str(dest)


async def acollect_run_outputs(
    items: Sequence[Mapping[str, Any]],
    *,
    download: Callable[[str, Callable[[bytes], Awaitable[object]]], Awaitable[int]],
    dest_dir: ObjectStoragePath,
    endpoint_names: bool = False,
) -> dict[str, Any]:
    """:func:`collect_run_outputs` for the event loop (``download(name, write)``)."""
    result: dict[str, Any] = {}
    for key, fetch, value in plan_run_outputs(items, endpoint_names=endpoint_names):
        if fetch is None:
            result[key] = value
        else:
            result[key] = await astream_to_storage(
                dest_dir / safe_component(key), functools.partial(download, fetch)
            )
    return result


async def acollect_endpoint_outputs(
    outputs: Mapping[str, Any],
    *,
    download_url: Callable[[str, Callable[[bytes], Awaitable[object]]], Awaitable[int]],
    dest_dir: ObjectStoragePath,
) -> dict[str, Any]:
    """:func:`collect_endpoint_outputs` for the event loop (``download_url(url, write)``)."""
    from craft_airflow.protocol.readers import unwrap_endpoint_output

    result: dict[str, Any] = {}
    for name, raw in outputs.items():
        output = unwrap_endpoint_output(raw)
        if output.kind == "file" and output.url is not None:
            result[name] = await astream_to_storage(
                dest_dir / safe_component(name), functools.partial(download_url, output.url)
            )
        else:
            result[name] = output.value
    return result
