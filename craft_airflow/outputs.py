"""Where a Craft execution's file outputs go, and what each output becomes as an XCom value.

A file output never goes through memory whole: a transport streams it from the platform into an
``ObjectStoragePath`` (``store_file`` in :mod:`craft_airflow.hooks.craft`, ``astore_file`` in
:mod:`craft_airflow.hooks.craft_async`) and XCom holds the location's URI, which the next Craft
task accepts as a file input. The default location is
``file://{AIRFLOW_HOME}/craft_outputs/{dag_id}/{run_id}/{task_id}[/{map_index}]/{execution_id}/{name}``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

from craft_airflow.errors import CraftError

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def safe_component(value: object) -> str:
    """Make ``value`` usable as one path segment on any storage (no separators, no dot names)."""
    # No separators, no leading dot (hidden files, "." and ".."), never empty.
    return (_UNSAFE.sub("_", str(value)).strip("_.") or "_")[:200]


def default_output_base() -> ObjectStoragePath:
    """``file://{AIRFLOW_HOME}/craft_outputs``."""
    home = os.path.abspath(os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow")))
    return ObjectStoragePath(f"file://{home}/craft_outputs")


def resolve_output_base(*candidates: str | ObjectStoragePath | None) -> ObjectStoragePath:
    """The first configured base among ``candidates`` (operator, then connection), or the default.

    A string without a scheme is a local folder.
    """
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


def remove_partial(dest: ObjectStoragePath) -> None:
    """Remove what a broken download left at ``dest`` (best effort)."""
    try:
        dest.unlink(missing_ok=True)
    except Exception:  # the original error is the one to report
        log.debug("Could not remove the partial file %s", dest, exc_info=True)


def storage_error(dest: ObjectStoragePath, err: OSError) -> CraftError:
    """The error naming the output and the location when storage refuses a file output."""
    reason = err.strerror or str(err) or type(err).__name__
    return CraftError(
        f"Cannot store file output {dest.name!r} at {str(dest)!r}: {type(err).__name__}: "
        f"{reason}. Expected a writable location: check output_storage (operator argument or "
        "the connection's 'output_storage' extra). The execution's outputs stay on the platform."
    )


class StorageSink:
    """The file output being written, whose refused writes (a full disk, say) fail as
    :func:`storage_error`, naming the output and where it was going.

    :param dest: where the file goes.
    :param sink: the opened file.
    """

    def __init__(self, dest: ObjectStoragePath, sink: Any) -> None:
        self._dest = dest
        self._sink = sink

    def write(self, chunk: bytes) -> int:
        try:
            return int(self._sink.write(chunk) or 0)
        except OSError as err:
            raise storage_error(self._dest, err) from None


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
