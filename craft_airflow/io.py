"""Inputs of a Craft execution: mapping objects, input validation and file input resolution.

Mappings (contract §3.3) can be given as plain dicts with the platform's field names or as
:class:`InputSource` / :class:`OutputDestination`; both are validated here, with errors that name
the offending field. File inputs are opened as binary streams, never read into memory.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal
from urllib.parse import unquote

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.protocol import FileInput

#: The platform's input/output data types (§3.1).
DATA_TYPES = frozenset({"string", "number", "boolean", "json", "array", "file"})

#: Where a mapping is used: a pipeline run accepts fewer mapping kinds than an endpoint deployment.
MappingTarget = Literal["run", "endpoint"]


class CraftInputError(ValueError):
    """An input or a mapping does not fit the pipeline; the message names the field."""


@dataclass(frozen=True)
class InputSource:
    """Where a pipeline input takes its value from (contract §3.3); set exactly one source.

    ``datastore_path`` also takes a ``craft://`` ``ObjectStoragePath`` or URI of the run's
    connection (see :mod:`craft_airflow.filesystem`).
    """

    pipeline_input_name: str
    endpoint_input_name: str | None = None
    constant_value: Any = None
    environment_variable_name: str | None = None
    is_null: bool | None = None
    datastore_path: str | ObjectStoragePath | None = None
    is_required: bool | None = None
    default_value: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form: keys whose value is ``None`` are dropped."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class OutputDestination:
    """Where a pipeline output goes (contract §3.3); set exactly one destination.

    ``datastore_path`` also takes a ``craft://`` path of the run's connection, as for inputs.
    """

    pipeline_output_name: str
    endpoint_output_name: str | None = None
    is_null: bool | None = None
    datastore_path: str | ObjectStoragePath | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form: keys whose value is ``None`` are dropped."""
        return {k: v for k, v in asdict(self).items() if v is not None}


_INPUT_SOURCES = (
    "endpoint_input_name",
    "constant_value",
    "environment_variable_name",
    "is_null",
    "datastore_path",
)
_OUTPUT_DESTINATIONS = ("endpoint_output_name", "is_null", "datastore_path")
# A pipeline run cannot take values from an endpoint request (§3.3, "run" row).
_RUN_INPUT_SOURCES = frozenset(
    {"constant_value", "environment_variable_name", "is_null", "datastore_path"}
)
_RUN_OUTPUT_DESTINATIONS = frozenset({"is_null", "datastore_path"})


def _mapping_dict(item: Any, cls: type, where: str) -> dict[str, Any]:
    if isinstance(item, cls):
        entry: dict[str, Any] = item.to_dict()  # type: ignore[attr-defined]
        if entry.get("is_null") is False:
            del entry["is_null"]
        return entry
    if not isinstance(item, Mapping):
        raise CraftInputError(
            f"{where}: expected a dict or {cls.__name__}, got {type(item).__name__}"
        )
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise CraftInputError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    # Wire form: None values are dropped; "is_null": false means the same as no is_null.
    return {k: v for k, v in item.items() if v is not None and not (k == "is_null" and v is False)}


def _normalize_mapping(
    mapping: Any,
    *,
    cls: type,
    noun: Literal["input", "output"],
    choices: tuple[str, ...],
    run_choices: frozenset[str],
    string_keys: tuple[str, ...],
    only_with: Mapping[str, str],
    target: MappingTarget,
    declared: Mapping[str, Mapping[str, Any]] | None,
) -> list[dict[str, Any]] | None:
    """Validate an inputs or outputs mapping (see the two callers); checks run in the same order
    for both, so the first mistake of an entry is the one reported.

    :param choices: the fields of which an entry sets exactly one (its source or destination).
    :param only_with: fields allowed only with a given choice (``{field: choice}``).
    """
    if mapping is None:
        return None
    label = f"{noun}s_mapping"
    name_key = f"pipeline_{noun}_name"
    if isinstance(mapping, Mapping | str | bytes) or not isinstance(mapping, Iterable):
        raise CraftInputError(
            f"{label}: expected a list of {cls.__name__} or dicts, got "
            f"{type(mapping).__name__}: {mapping!r:.80}"
        )
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(mapping):
        where = f"{label}[{index}]"
        entry = _mapping_dict(item, cls, where)
        name = entry.get(name_key)
        if not isinstance(name, str) or not name:
            raise CraftInputError(f"{where}: {name_key!r} is required (a non-empty string)")
        where = f"{label}[{index}] ({name!r})"
        if name in seen:
            raise CraftInputError(f"{where}: {noun} {name!r} is mapped more than once")
        seen.add(name)
        chosen = [k for k in choices if k in entry]
        if len(chosen) != 1:
            raise CraftInputError(
                f"{where}: set exactly one of {', '.join(choices)}; got "
                f"{', '.join(chosen) or 'none'}"
            )
        choice = chosen[0]
        if target == "run" and choice not in run_choices:
            raise CraftInputError(
                f"{where}: {choice!r} is not accepted for a pipeline run; use one of "
                f"{', '.join(sorted(run_choices))}"
            )
        for key, needed in only_with.items():
            if key in entry and choice != needed:
                raise CraftInputError(f"{where}: {key!r} is only valid with {needed!r}")
        if choice == "is_null" and entry["is_null"] is not True:
            raise CraftInputError(f"{where}: 'is_null' must be a boolean")
        for key in string_keys:
            if key in entry and (not isinstance(entry[key], str) or not entry[key]):
                raise CraftInputError(f"{where}: {key!r} must be a non-empty string")
        if declared is not None:
            if name not in declared:
                raise CraftInputError(f"{where}: {_unknown_name(noun, name, declared)}")
            if choice == "constant_value" and declared[name].get("data_type") == "file":
                raise CraftInputError(
                    f"{where}: a constant cannot fill the file input {name!r}; pass the file in "
                    "inputs or use 'datastore_path'"
                )
        result.append(entry)
    return result


def normalize_inputs_mapping(
    mapping: Sequence[InputSource | Mapping[str, Any]] | None,
    *,
    target: MappingTarget = "run",
    declared: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]] | None:
    """Validate an inputs mapping and return its wire form (a list of dicts).

    :param mapping: InputSource objects or dicts with the contract's field names.
    :param target: ``"run"`` for a pipeline run, ``"endpoint"`` for an endpoint deployment.
    :param declared: the pipeline's input definitions by name, to check names and types.
    """
    return _normalize_mapping(
        mapping,
        cls=InputSource,
        noun="input",
        choices=_INPUT_SOURCES,
        run_choices=_RUN_INPUT_SOURCES,
        string_keys=("endpoint_input_name", "environment_variable_name", "datastore_path"),
        only_with={"is_required": "endpoint_input_name", "default_value": "endpoint_input_name"},
        target=target,
        declared=declared,
    )


def normalize_outputs_mapping(
    mapping: Sequence[OutputDestination | Mapping[str, Any]] | None,
    *,
    target: MappingTarget = "run",
    declared: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]] | None:
    """Validate an outputs mapping and return its wire form (a list of dicts)."""
    return _normalize_mapping(
        mapping,
        cls=OutputDestination,
        noun="output",
        choices=_OUTPUT_DESTINATIONS,
        run_choices=_RUN_OUTPUT_DESTINATIONS,
        string_keys=("endpoint_output_name", "datastore_path"),
        only_with={},
        target=target,
        declared=declared,
    )


def _unknown_name(kind: str, name: str, declared: Mapping[str, Any]) -> str:
    known = ", ".join(sorted(declared)) or "none"
    return f"the pipeline has no {kind} {name!r} (declared: {known})"


def declared_io(pipeline: Mapping[str, Any], kind: Literal["inputs", "outputs"]) -> dict[str, dict]:
    """The pipeline's input or output definitions by name, from a §3.2 pipeline object."""
    params = pipeline.get("parameters") or {}
    items = params.get(kind) or []
    return {
        item["name"]: dict(item) for item in items if isinstance(item, Mapping) and "name" in item
    }


# --- values ------------------------------------------------------------------------------


def is_file_value(value: Any) -> bool:
    """True for values that can only be a file: bytes, paths, storage paths, binary streams."""
    from airflow.sdk import ObjectStoragePath

    return isinstance(
        value, bytes | bytearray | memoryview | os.PathLike | ObjectStoragePath
    ) or _is_binary_stream(value)


def _is_binary_stream(value: Any) -> bool:
    return hasattr(value, "read") and not isinstance(value, io.TextIOBase)


def _check_value(name: str, data_type: str | None, value: Any) -> None:
    if value is None or data_type in (None, "json"):
        if data_type == "json":
            try:
                json.dumps(value)
            except (TypeError, ValueError) as err:
                raise CraftInputError(
                    f"input {name!r} (json): not JSON-serialisable: {err}; expected a JSON value "
                    "(dict, list, str, number, bool or None)"
                ) from None
        return
    ok = {
        "string": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list | tuple),
    }.get(data_type)
    if ok is not None and not ok(value):
        raise CraftInputError(
            f"input {name!r} is declared {data_type!r} but got {type(value).__name__}: "
            f"{value!r:.80}"
        )


def _as_dict(label: str, value: Any, expected: str) -> dict[str, Any]:
    """``value`` as a dict; a clear error when a template or XCom gave something else."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        hint = ""
        if isinstance(value, str):
            hint = (
                " (a template renders to a string: pass a dict, or set "
                "render_template_as_native_obj=True on the DAG)"
            )
        raise CraftInputError(
            f"{label}: expected a dict of {expected}, got {type(value).__name__}: "
            f"{value!r:.80}{hint}"
        )
    return dict(value)


def split_inputs(
    inputs: Mapping[str, Any] | None,
    declared: Mapping[str, Mapping[str, Any]] | None,
    *,
    mapped: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split inputs into JSON values and file sources, checking them against ``declared``.

    With ``declared`` (the pipeline's inputs by name) unknown names, wrong value types and missing
    required inputs are errors. Without it, bytes, paths and streams are files and the rest JSON.

    :return: ``(json_inputs, file_sources)``; open file sources with :func:`open_file_inputs`.
    """
    inputs = _as_dict("inputs", inputs, "input name -> value")
    if any(not isinstance(k, str) for k in inputs):
        raise CraftInputError("inputs: keys must be input names (strings)")
    mapped = set(mapped)
    both = sorted(mapped & set(inputs))
    if both:
        raise CraftInputError(
            f"input(s) {', '.join(map(repr, both))} given both in inputs and in inputs_mapping"
        )
    json_inputs: dict[str, Any] = {}
    file_sources: dict[str, Any] = {}
    for name, value in inputs.items():
        if declared is None:
            (file_sources if is_file_value(value) else json_inputs)[name] = value
            continue
        if name not in declared:
            raise CraftInputError(f"inputs: {_unknown_name('input', name, declared)}")
        data_type = declared[name].get("data_type")
        if data_type == "file":
            if value is None:
                raise CraftInputError(
                    f"input {name!r} is a file input; use is_null mapping for none"
                )
            file_sources[name] = value
        else:
            if is_file_value(value):
                raise CraftInputError(
                    f"input {name!r} is declared {data_type!r} but got a file "
                    f"({type(value).__name__})"
                )
            _check_value(name, data_type, value)
            json_inputs[name] = value
    if declared is not None:
        missing = sorted(
            name
            for name, spec in declared.items()
            if spec.get("is_required")
            and spec.get("default_value") is None
            and name not in inputs
            and name not in mapped
        )
        if missing:
            described = ", ".join(
                f"{name!r} ({declared[name].get('data_type') or 'any type'})" for name in missing
            )
            raise CraftInputError(
                f"required input(s) missing: {described}; pass a value in inputs or map it in "
                "inputs_mapping"
            )
    return json_inputs, file_sources


def open_file_input(name: str, source: Any, stack: ExitStack) -> FileInput:
    """Open one file input as a binary stream registered on ``stack`` (closed with it).

    Accepted: a local path (``str`` or ``os.PathLike``), a storage URI (``file:///...``,
    ``s3://...``: any scheme ObjectStoragePath knows), an ``ObjectStoragePath``, ``bytes``, or an
    open binary stream (left open: the caller owns it).
    """
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.protocol import FileInput

    stream: BinaryIO
    if isinstance(source, bytes | bytearray | memoryview):
        return FileInput(filename=name, stream=io.BytesIO(bytes(source)))
    if isinstance(source, ObjectStoragePath):
        return _open_storage_path(name, source, stack)
    if isinstance(source, str) and source.startswith("file://"):
        # Accept both the plain form ObjectStoragePath prints and a percent-encoded file URI
        # (Path.as_uri()): decode only when the literal path does not exist.
        storage_path = ObjectStoragePath(source)
        if not storage_path.exists() and "%" in source:
            storage_path = ObjectStoragePath(unquote(source))
        return _open_storage_path(name, storage_path, stack)
    if isinstance(source, str) and "://" in source:
        return _open_storage_path(name, ObjectStoragePath(source), stack)
    if isinstance(source, str | os.PathLike):
        path = Path(os.fsdecode(os.fspath(source))).expanduser()
        try:
            _check_local_file(path)
            stream = stack.enter_context(path.open("rb"))
        except OSError as err:
            raise CraftInputError(
                f"file input {name!r}: cannot read {str(path)!r}: "
                f"{err.strerror or type(err).__name__}; expected a readable file"
            ) from None
        except _NotAFile as err:
            raise CraftInputError(f"file input {name!r}: {err}") from None
        return FileInput(filename=path.name, stream=stream)
    if _is_binary_stream(source):
        filename = os.path.basename(str(getattr(source, "name", "") or "")) or name
        return FileInput(filename=filename, stream=source)
    raise CraftInputError(
        f"file input {name!r}: expected a path, a storage URI, an ObjectStoragePath, bytes or a "
        f"binary stream, got {type(source).__name__}"
    )


class _NotAFile(Exception):
    """A local path that exists as something else than a regular file, or does not exist."""


def _check_local_file(path: Path) -> None:
    """Raise :class:`_NotAFile` saying what ``path`` is when it is not a regular file
    (``OSError`` when it cannot even be examined, e.g. a name too long)."""
    if path.is_file():
        return
    shown = repr(str(path))
    if path.is_symlink():
        raise _NotAFile(
            f"{shown} is a broken symbolic link (its target {os.readlink(path)!r} does not "
            "exist); expected a file"
        )
    if path.is_dir():
        raise _NotAFile(f"{shown} is a directory; expected a file")
    if path.exists():
        raise _NotAFile(f"{shown} is not a regular file (a socket, FIFO or device)")
    raise _NotAFile(f"no such file: {shown}")


def _open_storage_path(name: str, path: Any, stack: ExitStack) -> FileInput:
    from craft_airflow.protocol import FileInput

    try:
        exists = path.is_file()
    except Exception as err:  # storage back-ends raise their own errors (auth, network, ...)
        raise CraftInputError(f"file input {name!r}: cannot reach {str(path)!r}: {err}") from err
    if not exists:
        message = f"no such file: {str(path)!r}"
        try:
            if path.is_dir():
                message = f"{str(path)!r} is a directory; expected a file"
        except Exception:  # the first answer stands
            pass
        raise CraftInputError(f"file input {name!r}: {message}")
    stream = stack.enter_context(path.open("rb"))
    return FileInput(filename=path.name or name, stream=stream)


def open_file_inputs(sources: Mapping[str, Any], stack: ExitStack) -> dict[str, FileInput]:
    """Open every file source (see :func:`open_file_input`); streams close with ``stack``."""
    return {name: open_file_input(name, source, stack) for name, source in sources.items()}


def split_endpoint_inputs(
    inputs: Mapping[str, Any] | None,
    files: Mapping[str, Any] | None,
    *,
    file_input_names: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split endpoint inputs into JSON values and file sources.

    Files are the entries of ``files``, the values of ``inputs`` that can only be files (bytes,
    paths, streams) and the values of ``inputs`` named in ``file_input_names`` (the endpoint's
    declared file inputs, when known).
    """
    inputs = _as_dict("inputs", inputs, "endpoint input name -> value")
    files = _as_dict("files", files, "endpoint input name -> file")
    for label, given in (("inputs", inputs), ("files", files)):
        if any(not isinstance(k, str) for k in given):
            raise CraftInputError(f"{label}: keys must be endpoint input names (strings)")
    both = sorted(set(inputs) & set(files))
    if both:
        raise CraftInputError(
            f"endpoint input(s) {', '.join(map(repr, both))} given both in inputs and in files"
        )
    declared_files = set(file_input_names)
    json_inputs: dict[str, Any] = {}
    for name, value in inputs.items():
        if is_file_value(value) or (name in declared_files and isinstance(value, str)):
            files[name] = value
        else:
            json_inputs[name] = value
    for name, value in json_inputs.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as err:
            raise CraftInputError(
                f"endpoint input {name!r}: not JSON-serialisable ({err}); expected a JSON value, "
                "or a file (path, bytes, stream) in files"
            ) from None
    return json_inputs, files
