"""What the pages show of the store's records: display rows, never a secret.

Inputs mapped from an environment variable show the variable's name, not its value;
deployments show their mappings, never their endpoint token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from craft_local.pipelines import is_required
from craft_local.schedules import next_tick
from craft_local.store import TERMINAL_STATUSES, now_iso

#: Seconds between reloads of the page of an unfinished execution.
REFRESH_SECONDS = 2


def parse_date(value: str | None) -> datetime | None:
    """A platform date (``2026-01-02T03:04:05.678Z``), ``None`` when unset."""
    return datetime.fromisoformat(value) if value else None


def duration(seconds: float) -> str:
    """``0.4 s``, ``12.3 s``, ``2 min 5 s``, ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def display_value(value: Any) -> str:
    """A value as text: strings as they are, everything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _source(item: dict[str, Any]) -> str:
    """Where an input comes from, or where an output goes, in words."""
    kind, mapping = item["mapping_type"], item.get("mapping_value") or {}
    if kind == "environment_variable":
        return f"environment variable {mapping.get('environment_variable_name')}"
    if kind == "datastore":
        return f"data store {mapping.get('datastore_path')}"
    if kind == "constant":
        return "constant"
    if kind == "is_null":
        return "null"
    if kind == "endpoint":
        name = mapping.get("endpoint_input_name") or mapping.get("endpoint_output_name")
        return f"endpoint field {name}" if name else "endpoint"
    return "run"


def requirement(definition: dict[str, Any]) -> str:
    """Whether a run must give an input, in a word, as the platform's API decides it:
    ``default`` when it has one (used when the caller gives nothing), else ``required`` or
    ``optional``."""
    if "default_value" in definition:
        return "default"
    return "required" if is_required(definition) else "optional"


def when(value: str | None) -> str:
    """A platform date for a person: ``2026-01-02 03:04:05.678 UTC``."""
    return value.replace("T", " ").replace("Z", " UTC") if value else ""


def _io_row(
    item: dict[str, Any], kind: str, show_value: bool, unavailable: str = ""
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": item[f"pipeline_{kind}_name"],
        "data_type": item["data_type"],
        "source": _source(item),
        "file": "_file" in item and show_value,
        "value": None,
        "note": None,
    }
    if item["mapping_type"] == "environment_variable":
        row["note"] = "value not shown (it comes from an environment variable)"
    elif item["data_type"] == "file":
        if not row["file"]:
            row["note"] = "no file" if show_value else unavailable
    elif not show_value:
        row["note"] = unavailable
    elif item.get("_omit"):
        row["note"] = "not given (the function's default applies)"
    else:
        row["value"] = display_value(item.get("value"))
    return row


def execution_page(
    execution: dict[str, Any], logs: list[dict[str, str]], now: datetime | None = None
) -> dict[str, Any]:
    """The template context of an execution's page.

    :param execution: a store record (:meth:`Store.get_execution`).
    :param logs: its log lines (:meth:`Store.logs`).
    :param now: the current time, for the duration of an unfinished execution.
    """
    finished = execution["status"] in TERMINAL_STATUSES
    start, end = parse_date(execution["start_date"]), parse_date(execution["end_date"])
    elapsed = None
    if start is not None:
        elapsed = duration(((end or now or datetime.now(UTC)) - start).total_seconds())
    succeeded = execution["status"] == "Succeeded"
    unavailable = (
        f"no value: the execution is {execution['status']}"
        if finished
        else "available once the execution succeeded"
    )
    return {
        "execution": execution,
        "finished": finished,
        "refresh_seconds": None if finished else REFRESH_SECONDS,
        "duration": elapsed,
        "inputs": [_io_row(i, "input", True) for i in execution["inputs"]],
        "outputs": [_io_row(o, "output", succeeded, unavailable) for o in execution["outputs"]],
        "logs": logs,
    }


def deployment_page(deployment: dict[str, Any]) -> dict[str, Any]:
    """What a deployment's page shows: never its endpoint token."""
    mappings = []
    for kind, key in (("input", "inputs_mapping"), ("output", "outputs_mapping")):
        for mapping in deployment.get(key) or []:
            item = {"mapping_type": _mapping_type(mapping), "mapping_value": mapping}
            mappings.append(
                {
                    "kind": kind,
                    "name": mapping.get(f"pipeline_{kind}_name"),
                    "data_type": mapping.get("data_type"),
                    "source": _source(item),
                    "constant": display_value(mapping["constant_value"])
                    if "constant_value" in mapping
                    else None,
                }
            )
    return {
        "name": deployment["name"],
        "pipeline_name": deployment["pipeline"]["name"],
        "execution_rule": deployment["execution_rule"],
        "endpoint_url_path": deployment.get("endpoint_url_path"),
        "description": deployment.get("description") or "",
        "created_at": deployment.get("created_at"),
        "execution_timeout_s": deployment.get("execution_timeout_s"),
        "is_enabled": bool(deployment.get("is_enabled", True)),
        "schedule": deployment.get("schedule"),
        "human_readable_schedule": deployment.get("human_readable_schedule"),
        "mappings": mappings,
    }


def schedule_page(
    deployment: dict[str, Any], now: str, frozen: bool, last_tick: dict[str, Any] | None
) -> dict[str, Any]:
    """What a periodic deployment's page shows of its schedule: the next tick at the
    scheduler's clock (none while disabled), that clock, and the last claimed tick.

    :param now: the scheduler's clock (ISO, UTC).
    :param frozen: whether a test or demo froze that clock.
    :param last_tick: the latest row of :meth:`Store.ticks`, ``None`` before the first.
    """
    moment = parse_date(now) or datetime.now(UTC)
    upcoming = None
    if deployment.get("is_enabled", True):
        upcoming = now_iso(next_tick(deployment["schedule"], moment).timestamp())
    return {"next_tick": upcoming, "clock": now, "frozen": frozen, "last_tick": last_tick}


def _mapping_type(mapping: dict[str, Any]) -> str:
    """The execution item ``mapping_type`` a deployment mapping leads to."""
    for key, kind in (
        ("environment_variable_name", "environment_variable"),
        ("datastore_path", "datastore"),
        ("constant_value", "constant"),
        ("is_null", "is_null"),
    ):
        if key in mapping and mapping[key] not in (None, False):
            return kind
    return "endpoint"
