"""Pipeline definitions: parsing what clients send (flattened multipart or JSON) and views."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from craft_local.datatypes import DATA_TYPES, coerce, matches, parse_bool
from craft_local.errors import bad_request

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
#: ``request.form(max_fields=...)`` of the routes.
MAX_FORM_FIELDS = 10_000


def is_required(spec: dict[str, Any]) -> bool:
    """Whether a caller must give the input: ``is_required`` true, on the input's definition
    (runs) or its endpoint mapping (endpoints). Absent means optional, as the SDK has it (it
    sends ``is_required`` only when set): the function then gets nothing for it, and its own
    default applies. A ``default_value`` is used whenever the caller gives nothing."""
    return spec.get("is_required") is True


def _is_index(part: str) -> bool:
    return part.isascii() and part.isdigit()  # isdigit alone accepts "²", which int() refuses


def unflatten(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Rebuild a nested structure from ``a[b][0][c]``-style keys (multipart form).

    Numeric segments become list indexes. Keys that do not fit together (``a=1`` and
    ``a[b]=2``, ``a[0]`` and ``a[b]``) or indexes past what a form can hold are a 400.
    """
    root: dict[str, Any] = {}
    for key, value in items:
        try:
            _put(root, key, value)
        except (TypeError, ValueError, AttributeError):
            raise bad_request(f"Malformed form field {key!r}.") from None
    return root


def _put(root: dict[str, Any], key: str, value: Any) -> None:
    head, _, rest = key.partition("[")
    parts = [head, *_KEY_PART.findall("[" + rest)] if rest else [head]
    node: Any = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt_is_index = not last and _is_index(parts[i + 1])
        if isinstance(node, list):
            # A form holds at most MAX_FORM_FIELDS fields: a larger index only costs memory.
            if not _is_index(part) or int(part) >= MAX_FORM_FIELDS:
                raise ValueError(part)
            index = int(part)
            while len(node) <= index:
                node.append(None)
            if last:
                node[index] = value
            else:
                if node[index] is None:
                    node[index] = [] if nxt_is_index else {}
                node = node[index]
        else:
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if nxt_is_index else {})


def _as_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return parse_bool(value)
        except ValueError:
            pass
    raise bad_request(f"{what} must be a boolean.")


def _io_list(raw: Any, kind: str) -> list[dict[str, Any]]:
    if raw in (None, "", {}):
        return []
    if isinstance(raw, dict):  # a list that went through a form may come back as a dict
        raw = [raw[k] for k in sorted(raw, key=lambda k: int(k) if _is_index(str(k)) else 0)]
    if not isinstance(raw, list):
        raise bad_request(f"'{kind}' must be a list.")
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad_request(f"Every item of '{kind}' needs a 'name'.")
        name, data_type = item["name"], item.get("data_type")
        # Inputs become keyword arguments; outputs name files and folders.
        if not (name.isidentifier() if kind == "inputs" else _OUTPUT_NAME.match(name)):
            raise bad_request(
                f"Invalid {kind[:-1]} name {name!r}: use letters, digits and '_'"
                + (" (a Python identifier)." if kind == "inputs" else ", '-' or '.'.")
            )
        if name in seen:
            raise bad_request(f"Duplicate {kind[:-1]} name '{name}'.")
        seen.add(name)
        if data_type not in DATA_TYPES:
            raise bad_request(
                f"{kind[:-1].capitalize()} '{name}' has an invalid data_type {data_type!r};"
                f" expected one of {', '.join(DATA_TYPES)}."
            )
        clean: dict[str, Any] = {"name": name, "data_type": data_type}
        if item.get("description") not in (None, ""):
            clean["description"] = str(item["description"])
        if kind == "inputs":
            if "is_required" in item and item["is_required"] != "":
                clean["is_required"] = _as_bool(item["is_required"], f"is_required of '{name}'")
            if "default_value" in item and item["default_value"] is not None:
                if data_type == "file":
                    raise bad_request(f"Input '{name}': a file input can not have a default value.")
                try:
                    default = coerce(data_type, item["default_value"])
                except ValueError:
                    default = None
                if default is None or not matches(data_type, default):
                    raise bad_request(
                        f"Input '{name}': default_value does not match data_type {data_type}."
                    )
                clean["default_value"] = default
        result.append(clean)
    return result


def build_parameters(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a pipeline definition and return its ``parameters`` object (§3.2).

    :param raw: the definition, either JSON or unflattened from a multipart form.
    """
    name = raw.get("pipeline_name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise bad_request(
            "pipeline_name must be 1-63 characters of lower-case letters, digits and '-'."
        )
    function_path, function_name = raw.get("function_path"), raw.get("function_name")
    if not isinstance(function_path, str) or not function_path:
        raise bad_request("function_path is required.")
    if not isinstance(function_name, str) or not function_name.isidentifier():
        raise bad_request("function_name must be a Python identifier.")
    path = PurePosixPath(function_path)
    if path.is_absolute() or ".." in path.parts or path.suffix != ".py":
        raise bad_request("function_path must be a relative path to a .py file.")
    container_config = raw.get("container_config") or {}
    if not isinstance(container_config, dict):
        raise bad_request("container_config must be an object.")
    return {
        "pipeline_name": name,
        "function_path": str(path),
        "function_name": function_name,
        "description": raw.get("description") or "",
        "inputs": _io_list(raw.get("inputs"), "inputs"),
        "outputs": _io_list(raw.get("outputs"), "outputs"),
        "container_config": {"language": "python:3.11-slim", **container_config},
    }


def pipeline_view(record: dict[str, Any]) -> dict[str, Any]:
    """The pipeline object of GET /pipelines/{name} (§3.2)."""
    name = record["parameters"]["pipeline_name"]
    return {
        "parameters": record["parameters"],
        "creation_info": {
            "created_at": record["created_at"],
            "created_by": "local-user",
            "commit_id": None,
            "status": "ready",
            "origin": "local",
            "pipeline_template": None,
            "id": name,
            "is_archived": False,
        },
    }
