"""Input values checked against the pipeline's declared inputs, split into JSON values and file
sources (opened by :mod:`craft_airflow.inputs.files`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from airflow.sdk import ObjectStoragePath

from craft_airflow.errors import CraftInputError
from craft_airflow.inputs.files import is_binary_stream


def unknown_name(kind: str, name: str, declared: Mapping[str, Any]) -> str:
    known = ", ".join(sorted(declared)) or "none"
    return f"the pipeline has no {kind} {name!r} (declared: {known})"


def declared_io(
    pipeline: Mapping[str, Any], kind: Literal["inputs", "outputs"]
) -> dict[str, dict[str, Any]]:
    """The pipeline's input or output definitions by name, from a §3.2 pipeline object."""
    params = pipeline.get("parameters") or {}
    items = params.get(kind) or []
    return {
        item["name"]: dict(item) for item in items if isinstance(item, Mapping) and "name" in item
    }


def is_file_value(value: Any) -> bool:
    """True for values that can only be a file: bytes, paths, storage paths, binary streams."""
    return isinstance(
        value, bytes | bytearray | memoryview | os.PathLike | ObjectStoragePath
    ) or is_binary_stream(value)


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
            raise CraftInputError(f"inputs: {unknown_name('input', name, declared)}")
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
