"""The mapping schema (contract §3.3): :class:`InputSource` and :class:`OutputDestination`.

Mappings can be given as plain dicts with the platform's field names or as these objects; both
are validated here into the wire form, with errors that name the offending field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from craft_airflow.errors import CraftInputError
from craft_airflow.inputs.values import unknown_name

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: Where a mapping is used: a pipeline run accepts fewer mapping kinds than an endpoint deployment.
MappingTarget = Literal["run", "endpoint"]


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
                raise CraftInputError(f"{where}: {unknown_name(noun, name, declared)}")
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
