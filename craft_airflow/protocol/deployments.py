"""Deployments (§6): the creation and update calls, the one diff between a wanted deployment and
the platform's, and reading a deployment's finished executions. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from craft_airflow.errors import CraftInputError
from craft_airflow.protocol.config import ClientConfig
from craft_airflow.protocol.http import HttpRequest
from craft_airflow.protocol.statuses import FAILED_STATUSES, TERMINAL_STATUSES

ExecutionRule = Literal["endpoint", "periodic"]

#: Mapping keys whose value an update may change (§6.5); every other change needs a new deployment.
CHANGEABLE_VALUES = ("constant_value", "datastore_path")
_SOURCE_KEYS = (
    "endpoint_input_name",
    "endpoint_output_name",
    "constant_value",
    "environment_variable_name",
    "is_null",
    "datastore_path",
)
#: Deployment fields never shown in a task's result, log or XCom.
SECRET_FIELDS = frozenset({"endpoint_token"})


@dataclass(frozen=True)
class DeploymentSpec:
    """A deployment as a DAG wants it.

    :param name: the deployment's name.
    :param pipeline_name: the deployed pipeline.
    :param execution_rule: ``endpoint`` or ``periodic``.
    :param schedule: CRON (UTC, five fields) of a periodic deployment.
    :param inputs_mapping: wire-form input mappings (§3.3).
    :param outputs_mapping: wire-form output mappings.
    :param enabled: whether the deployment runs.
    :param extra: other creation fields (``description``, ``endpoint_url_path``,
        ``execution_timeout_s``, ``mode``), sent at creation only.
    """

    name: str
    pipeline_name: str
    execution_rule: ExecutionRule
    schedule: str | None = None
    inputs_mapping: list[dict[str, Any]] = field(default_factory=list)
    outputs_mapping: list[dict[str, Any]] = field(default_factory=list)
    enabled: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.execution_rule not in ("endpoint", "periodic"):
            raise CraftInputError(
                f"execution_rule: expected 'endpoint' or 'periodic', got {self.execution_rule!r}"
            )
        if self.execution_rule == "periodic" and not self.schedule:
            raise CraftInputError(
                "schedule: a periodic deployment needs a CRON schedule (five fields, UTC)"
            )
        if self.execution_rule == "endpoint" and self.schedule:
            raise CraftInputError("schedule: applies to periodic deployments only")

    def creation_body(self) -> dict[str, Any]:
        """The §6.5 creation body (``None`` values dropped, as the SDK does)."""
        body: dict[str, Any] = {
            "pipeline_name": self.pipeline_name,
            "name": self.name,
            **dict(self.extra),
            "inputs_mapping": self.inputs_mapping,
            "outputs_mapping": self.outputs_mapping,
        }
        if self.execution_rule == "periodic":
            body["schedule"] = self.schedule
        return {k: v for k, v in body.items() if v is not None}


def build_create_deployment(config: ClientConfig, spec: DeploymentSpec) -> HttpRequest:
    """§6.5: ``POST /endpoints`` or ``POST /periodic-deployment`` (creates no execution)."""
    path = "endpoints" if spec.execution_rule == "endpoint" else "periodic-deployment"
    return HttpRequest(
        "POST",
        f"{config.environment_url}/api/v1/{path}",
        json=spec.creation_body(),
        idempotent=False,
        operation=f"create deployment {spec.name!r}",
    )


def build_update_deployment(
    config: ClientConfig, name: str, change: Mapping[str, Any]
) -> HttpRequest:
    """§6.5: ``PATCH /deployments/{name}`` with one property (the SDK sends one at a time)."""
    return HttpRequest(
        "PATCH",
        f"{config.environment_url}/api/v1/deployments/{name}",
        json=dict(change),
        idempotent=True,  # setting the same values again changes nothing
        operation=f"update deployment {name!r}",
    )


def updates_for(current: Mapping[str, Any], spec: DeploymentSpec) -> list[dict[str, Any]]:
    """The ``PATCH`` bodies turning ``current`` (the platform's deployment) into ``spec``, one
    property each; ``[]`` when nothing differs.

    :raises CraftInputError: a difference no update can make (pipeline, rule, a mapping's kind),
        naming the field.
    """
    owner = (current.get("pipeline") or {}).get("name")
    if owner != spec.pipeline_name:
        raise CraftInputError(
            f"deployment_name: {spec.name!r} already deploys pipeline {owner!r}, not"
            f" {spec.pipeline_name!r}; choose another name or delete that deployment"
        )
    if current.get("execution_rule") != spec.execution_rule:
        raise CraftInputError(
            f"execution_rule: deployment {spec.name!r} is {current.get('execution_rule')!r} on the"
            f" platform; a rule cannot change: delete the deployment or choose another name"
        )
    changes: list[dict[str, Any]] = []
    if spec.execution_rule == "periodic" and _cron(current.get("schedule")) != _cron(spec.schedule):
        changes.append({"schedule": spec.schedule})
    for key, name_key in (
        ("inputs_mapping", "pipeline_input_name"),
        ("outputs_mapping", "pipeline_output_name"),
    ):
        changed = _mapping_changes(current.get(key) or [], getattr(spec, key), key, name_key)
        if changed:
            changes.append({key: changed})
    if bool(current.get("is_enabled", True)) != spec.enabled:
        changes.append({"is_enabled": spec.enabled})
    return changes


def _cron(value: Any) -> str:
    return " ".join(str(value or "").split())


def _source(mapping: Mapping[str, Any]) -> str | None:
    return next((k for k in _SOURCE_KEYS if mapping.get(k) not in (None, False)), None)


def _mapping_changes(
    current: Sequence[Mapping[str, Any]],
    wanted: Sequence[Mapping[str, Any]],
    key: str,
    name_key: str,
) -> list[dict[str, Any]]:
    by_name = {m.get(name_key): m for m in current}
    changes = []
    for mapping in wanted:
        name = mapping[name_key]
        existing = by_name.get(name)
        kind = _source(mapping)
        if existing is None or _source(existing) != kind:
            was = _source(existing) if existing is not None else "unmapped"
            raise CraftInputError(
                f"{key}: {name!r} is mapped by {was} on the platform, not {kind}; only the"
                f" values of {', '.join(CHANGEABLE_VALUES)} can be updated: delete the deployment"
                " or choose another name to change a mapping's kind"
            )
        if kind is not None and existing.get(kind) != mapping.get(kind):
            if kind not in CHANGEABLE_VALUES:
                raise CraftInputError(
                    f"{key}: {name!r} ({kind}) cannot change on an existing deployment; only"
                    f" {', '.join(CHANGEABLE_VALUES)} values can"
                )
            changes.append({name_key: name, kind: mapping[kind]})
    return changes


def public_deployment(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """What a task may show of a deployment: every field but the endpoint token."""
    return {k: v for k, v in deployment.items() if k not in SECRET_FIELDS and k in _SHOWN}


_SHOWN = frozenset(
    {
        "name",
        "pipeline",
        "execution_rule",
        "schedule",
        "human_readable_schedule",
        "endpoint_url_path",
        "is_enabled",
        "status",
        "mode",
        "inputs_mapping",
        "outputs_mapping",
        "created_at",
        "updated_at",
        "description",
    }
)


# ---- a deployment's finished executions ---------------------------------------------------


def parse_date(value: Any) -> datetime | None:
    """A platform date (ISO-8601, ``Z``) as an aware UTC datetime, ``None`` if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def executions_after(
    executions: Iterable[Mapping[str, Any]], deployment_name: str, after: datetime
) -> list[dict[str, Any]]:
    """A deployment's executions created strictly after ``after``, oldest first (§5.2 items)."""
    found = []
    for item in executions:
        created = parse_date(item.get("created_at"))
        if item.get("deployment_name") == deployment_name and created and created > after:
            found.append((created, str(item.get("execution_id")), dict(item)))
    found.sort(key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in found]


def is_finished(item: Mapping[str, Any]) -> bool:
    return item.get("status") in TERMINAL_STATUSES


def is_failed(item: Mapping[str, Any]) -> bool:
    return item.get("status") in FAILED_STATUSES


def outputs_by_name(
    items: Iterable[Mapping[str, Any]], conn_id: str, execution_id: str
) -> dict[str, Any]:
    """§5.4 output items as ``{output name: value}``; a data-store output gives where it is,
    ``craft://<conn_id>@/<path>``, and a null output ``None``.

    A deployment's ``datastore_path`` may hold ``{execution_id}``, which the platform replaces
    when it writes the file (§3.3): it is replaced here too, so each execution's location is its
    own. ``{date}`` and ``{date_time}`` (the platform's clock at the write) stay as they are.

    :param execution_id: the execution the items belong to.
    """
    result: dict[str, Any] = {}
    for item in items:
        name = item.get("pipeline_output_name")
        if not isinstance(name, str):
            continue
        mapping = item.get("mapping_value") or {}
        if item.get("mapping_type") == "datastore" and isinstance(mapping, Mapping):
            path = str(mapping.get("datastore_path", "")).lstrip("/")
            path = path.replace("{execution_id}", execution_id)
            result[name] = f"craft://{conn_id}@/{path}"
        else:
            result[name] = item.get("value")
    return result


def next_finished(
    executions: Iterable[Mapping[str, Any]], deployment_name: str, after: datetime
) -> dict[str, Any] | None:
    """Of a deployment's executions created after ``after``, the first to have finished (by
    ``end_date``, then creation), ``None`` while none has."""
    finished = [e for e in executions_after(executions, deployment_name, after) if is_finished(e)]
    if not finished:
        return None
    far = datetime.max.replace(tzinfo=UTC)
    return min(finished, key=lambda e: parse_date(e.get("end_date")) or far)


def execution_payload(
    item: Mapping[str, Any], outputs: Mapping[str, Any] | None, error: str | None = None
) -> dict[str, Any]:
    """What Airflow gets of a deployment's finished execution: a sensor's trigger event, an
    asset event's extra. Outputs are values or ``craft://`` locations; ``None`` when failed.

    :param error: the platform's message for a failed execution.
    """
    return {
        "execution_id": item.get("execution_id"),
        "status": item.get("status"),
        "deployment_name": item.get("deployment_name"),
        "pipeline_name": item.get("pipeline_name"),
        "created_at": item.get("created_at"),
        "end_date": item.get("end_date"),
        "outputs": dict(outputs) if outputs is not None else None,
        "error": error,
    }


@dataclass(frozen=True)
class Watermark:
    """How far a watch of a deployment's executions has announced them.

    :param after: every execution created at or before it was announced (or predates the watch).
    :param announced: executions created after ``after`` already announced (they finished before
        an older one).
    """

    after: datetime
    announced: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {"after": self.after.isoformat(), "announced": sorted(self.announced)}

    @classmethod
    def from_json(cls, data: Any) -> Watermark | None:
        """The stored watermark, ``None`` when absent or unreadable (the watch starts afresh)."""
        if not isinstance(data, Mapping):
            return None
        after = parse_date(data.get("after"))
        announced = data.get("announced") or []
        if after is None or not isinstance(announced, list):
            return None
        return cls(after, frozenset(str(x) for x in announced))

    def to_announce(
        self, executions: Iterable[Mapping[str, Any]], deployment_name: str
    ) -> list[dict[str, Any]]:
        """Finished executions not announced yet, in the order they finished."""
        new = [
            e
            for e in executions_after(executions, deployment_name, self.after)
            if is_finished(e) and str(e.get("execution_id")) not in self.announced
        ]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(new, key=lambda e: parse_date(e.get("end_date")) or far)

    def announce(
        self, item: Mapping[str, Any], executions: Iterable[Mapping[str, Any]], deployment_name: str
    ) -> Watermark:
        """The watermark once ``item`` is announced: ``after`` moves past every leading
        execution that is announced, so ``announced`` stays small."""
        announced = set(self.announced) | {str(item.get("execution_id"))}
        dated = [
            (parse_date(e.get("created_at")) or self.after, str(e.get("execution_id")))
            for e in executions_after(executions, deployment_name, self.after)
        ]
        waiting = [created for created, execution_id in dated if execution_id not in announced]
        limit = min(waiting) if waiting else None
        # Move past announced executions older than every waiting one (equal dates stay after).
        passed = [c for c, i in dated if i in announced and (limit is None or c < limit)]
        after = max(passed, default=self.after)
        kept = {i for c, i in dated if i in announced and c > after}
        return Watermark(after, frozenset(kept))
