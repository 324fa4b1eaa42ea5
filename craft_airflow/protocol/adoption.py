"""Creating an execution without ever creating two.

A creating call (run, deployment trigger, endpoint trigger) is re-sent only when it provably
never reached the server, or was answered "not processed" (429/503) — see
:mod:`craft_airflow.protocol.decisions`. After an *ambiguous* failure (sent, no usable answer)
the execution that attempt may have created is looked for and adopted:

1. list the pipeline's executions (§5.2), keep those created at or after the attempt's start
   (minus :data:`CLOCK_SKEW`), for a deployment those with its ``deployment_name``;
2. read each candidate with its values (§5.3) and compare the non-file inputs sent;
3. exactly one match -> adopt it; several -> :class:`CraftAmbiguousCreation` listing them;
   none -> look again (:data:`RECHECK_DELAYS`), then :class:`CraftAmbiguousCreation` with the
   recent candidates. "Not listed" is no proof the request never arrived, so nothing is re-sent.

With only an endpoint token nothing can be listed: the error names the endpoint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from craft_airflow.errors import CraftAmbiguousCreation
from craft_airflow.protocol.builders import (
    build_get_deployment,
    build_get_execution,
    build_list_pipeline_executions,
)
from craft_airflow.protocol.calls import AmbiguousSend, CallContext, Steps, call_json, perform
from craft_airflow.protocol.http import HttpRequest, Sleep
from craft_airflow.protocol.readers import decode_body, read_execution, read_execution_id, read_list

log = logging.getLogger(__name__)

CLOCK_SKEW = 30.0
RECHECK_DELAYS = (2.0, 5.0)
# Reading more candidates than this one by one is not worth it: report them instead.
MAX_CANDIDATES = 50


@dataclass(frozen=True)
class CreationIntent:
    """What a creating request was meant to create, to recognise it afterwards.

    :param kind: ``run`` (inputs keyed by pipeline input name), ``deployment`` (keyed by
        endpoint input name), ``endpoint`` (endpoint token only: cannot be looked up).
    :param inputs: the non-file inputs sent.
    """

    kind: Literal["run", "deployment", "endpoint"]
    pipeline_name: str | None = None
    deployment_name: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict, repr=False)


def parse_timestamp(value: Any) -> float | None:
    """ISO-8601 (trailing ``Z`` accepted) -> epoch seconds; ``None`` if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def recent_candidates(
    executions: Iterable[Mapping[str, Any]],
    *,
    since: float,
    deployment_name: str | None = None,
    skew: float = CLOCK_SKEW,
) -> list[str]:
    """Ids of executions created at or after ``since - skew`` (unreadable dates included)."""
    found = []
    for execution in executions:
        execution_id = execution.get("execution_id")
        if not isinstance(execution_id, str):
            continue
        if deployment_name is not None and execution.get("deployment_name") != deployment_name:
            continue
        created = parse_timestamp(execution.get("created_at"))
        if created is None or created >= since - skew:
            found.append(execution_id)
    return found


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _input_names(item: Mapping[str, Any], by: Literal["pipeline", "endpoint"]) -> set[str]:
    names = set()
    if by == "endpoint":
        mapping = item.get("mapping_value")
        if isinstance(mapping, Mapping) and mapping.get("endpoint_input_name"):
            names.add(mapping["endpoint_input_name"])
        if item.get("endpoint_input_name"):
            names.add(item["endpoint_input_name"])
    for key in ("pipeline_input_name", "name"):
        if item.get(key):
            names.add(item[key])
    return names


def inputs_match(
    execution: Mapping[str, Any],
    sent: Mapping[str, Any],
    *,
    by: Literal["pipeline", "endpoint"] = "pipeline",
) -> bool:
    """Whether the execution received every sent non-file input with an equal value.

    An input whose value the platform does not show counts as a mismatch: adoption needs proof.
    """
    items = execution.get("inputs")
    if not sent:
        return True
    if not isinstance(items, list):
        return False
    for name, value in sent.items():
        expected = _normal(value)
        matched = any(
            isinstance(item, Mapping)
            and name in _input_names(item, by)
            and "value" in item
            and _normal(item["value"]) == expected
            for item in items
        )
        if not matched:
            return False
    return True


def create_execution(ctx: CallContext, request: HttpRequest, intent: CreationIntent) -> Steps[str]:
    """Send a creating request and return the execution id, adopting after ambiguity."""
    try:
        response = yield from perform(ctx, request)
    except AmbiguousSend as ambiguous:
        log.warning(
            "%s got no usable answer (%s); looking for the execution it may have created",
            request.operation,
            ambiguous.error.platform_message,
        )
        return (yield from adopt(ctx, intent, since=ambiguous.started_wall))
    data = decode_body(response.status, response.body, response.content_type)
    return read_execution_id(data, response.headers)


def adopt(ctx: CallContext, intent: CreationIntent, *, since: float) -> Steps[str]:
    """Find the execution an ambiguous creating request made (see the module docstring)."""
    if intent.kind == "endpoint":
        raise CraftAmbiguousCreation(
            [],
            f"Triggering endpoint {intent.deployment_name!r} got no clear answer, and with only "
            "an endpoint token the platform's executions cannot be listed to check whether it "
            "ran. Not re-sending, to avoid running it twice; check the deployment's executions "
            "page.",
        )
    pipeline_name = intent.pipeline_name
    if pipeline_name is None:
        deployment = yield from call_json(
            ctx, build_get_deployment(ctx.config, intent.deployment_name or "")
        )
        pipeline = deployment.get("pipeline") if isinstance(deployment, Mapping) else None
        pipeline_name = (pipeline.get("name") if isinstance(pipeline, Mapping) else None) or (
            deployment.get("pipeline_name") if isinstance(deployment, Mapping) else None
        )
        if not pipeline_name:
            raise CraftAmbiguousCreation([])
    by: Literal["pipeline", "endpoint"] = "endpoint" if intent.kind == "deployment" else "pipeline"
    deployment_filter = intent.deployment_name if intent.kind == "deployment" else None
    candidates: list[str] = []
    for round_number in range(len(RECHECK_DELAYS) + 1):
        if round_number:
            yield Sleep(RECHECK_DELAYS[round_number - 1])
        listed = read_list(
            (yield from call_json(ctx, build_list_pipeline_executions(ctx.config, pipeline_name))),
            "the pipeline's executions",
        )
        candidates = recent_candidates(listed, since=since, deployment_name=deployment_filter)
        if len(candidates) > MAX_CANDIDATES:
            raise CraftAmbiguousCreation(candidates)
        matches = []
        for candidate in candidates:
            execution = read_execution(
                (
                    yield from call_json(
                        ctx, build_get_execution(ctx.config, candidate, include_io_values=True)
                    )
                )
            )
            if inputs_match(execution, intent.inputs, by=by):
                matches.append(candidate)
        if len(matches) == 1:
            log.warning("Adopting execution %s, created by the ambiguous request", matches[0])
            return matches[0]
        if len(matches) > 1:
            raise CraftAmbiguousCreation(matches)
    message = (
        "The creation request got no clear answer and no execution with the inputs sent was "
        "found"
        + (f" (recent executions with other inputs: {', '.join(candidates)})" if candidates else "")
        + ". Not re-sending it, to avoid running the pipeline twice; check the platform's "
        "executions page."
    )
    raise CraftAmbiguousCreation(candidates, message)
