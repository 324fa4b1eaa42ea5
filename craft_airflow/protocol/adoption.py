"""Creating an execution without ever creating two.

A creating call (run, deployment trigger, endpoint trigger) is re-sent only when it provably
never reached the server, or was answered "not processed" (429/503) — see
:mod:`craft_airflow.protocol.decisions`. After an *ambiguous* failure (sent, no usable answer)
the execution that attempt may have created is looked for and adopted:

1. list the pipeline's executions (§5.2), keep those created at or after the attempt's start
   (minus :data:`CLOCK_SKEW`), for a deployment those with its ``deployment_name``;
2. read each candidate with its values (§5.3) and compare the non-file inputs sent (by their
   :func:`input_digests`, so that a retry can compare what only its intent record kept);
3. exactly one match -> adopt it; several -> :class:`CraftAmbiguousCreation` listing them;
   none -> look again (:data:`RECHECK_DELAYS`; a candidate read once is not read again), then
   :class:`CraftAmbiguousCreation` with the recent candidates. "Not listed" is no proof the
   request never arrived, so nothing is re-sent.

The contract lists executions without filters or input values (§5.2), so the cost is one list
call per round plus one read per candidate (:func:`search_steps`).

:func:`find_earlier_creation` is the same search, once, for a retry whose earlier try recorded
an intent and died before recording an id (:mod:`craft_airflow.journal`): none found means
create.

With only an endpoint token nothing can be listed: the error names the endpoint (a retry cannot
look either, and creates: :func:`find_earlier_creation`). With an SDK token beside it, an
endpoint's executions are looked for as a deployment's.
"""

from __future__ import annotations

import hashlib
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
from craft_airflow.protocol.statuses import FAILED_STATUSES, ExecutionStatus

log = logging.getLogger(__name__)

CLOCK_SKEW = 30.0
RECHECK_DELAYS = (2.0, 5.0)


@dataclass(frozen=True)
class CreationIntent:
    """What a creating request was meant to create, to recognise it afterwards.

    :param kind: ``run`` (inputs keyed by pipeline input name), ``deployment`` (keyed by
        endpoint input name), ``endpoint`` (endpoint token only: cannot be looked up).
    :param inputs: the non-file inputs sent.
    :param digests: the inputs' :func:`input_digests`, when only those are known (an intent
        record read back by a retry); else computed from ``inputs``.
    """

    kind: Literal["run", "deployment", "endpoint"]
    pipeline_name: str | None = None
    deployment_name: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict, repr=False)
    digests: Mapping[str, str] | None = field(default=None, repr=False)

    def fingerprint(self) -> dict[str, str]:
        """Input name -> digest of the value sent (what adoption compares)."""
        return dict(self.digests) if self.digests is not None else input_digests(self.inputs)

    @property
    def what(self) -> str:
        """Human words for the target, for messages."""
        if self.kind == "run":
            return f"pipeline {self.pipeline_name!r}"
        return f"{self.kind} {self.deployment_name!r}"


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


def _canonical(value: Any) -> Any:
    """Equal values, equal form: an integral float as an int (``7.0`` sent, ``7`` shown)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def value_digest(value: Any) -> str:
    """SHA-256 of the value's canonical JSON (sorted keys, ``str`` for what JSON lacks, an
    integral float as an int)."""
    canonical = json.dumps(_canonical(_normal(value)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def input_digests(inputs: Mapping[str, Any]) -> dict[str, str]:
    """Input name -> :func:`value_digest` of its value: the fingerprint of the inputs sent,
    kept instead of the values (they may be large, or private)."""
    return {str(name): value_digest(value) for name, value in inputs.items()}


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
    return digests_match(execution, input_digests(sent), by=by)


def digests_match(
    execution: Mapping[str, Any],
    digests: Mapping[str, str],
    *,
    by: Literal["pipeline", "endpoint"] = "pipeline",
) -> bool:
    """:func:`inputs_match` on the inputs' digests (:func:`input_digests`)."""
    items = execution.get("inputs")
    if not digests:
        return True
    if not isinstance(items, list):
        return False
    for name, digest in digests.items():
        matched = any(
            isinstance(item, Mapping)
            and name in _input_names(item, by)
            and "value" in item
            and value_digest(item["value"]) == digest
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


def _searchable(ctx: CallContext, intent: CreationIntent) -> bool:
    """Whether executions can be listed for this intent: not with only an endpoint token."""
    return intent.kind != "endpoint" or bool(ctx.config.sdk_token)


def _pipeline_of(ctx: CallContext, intent: CreationIntent) -> Steps[str]:
    """The pipeline whose executions to list (a deployment's: one call to read it)."""
    if intent.pipeline_name is not None:
        return intent.pipeline_name
    deployment = yield from call_json(
        ctx, build_get_deployment(ctx.config, intent.deployment_name or "")
    )
    pipeline = deployment.get("pipeline") if isinstance(deployment, Mapping) else None
    pipeline_name = (pipeline.get("name") if isinstance(pipeline, Mapping) else None) or (
        deployment.get("pipeline_name") if isinstance(deployment, Mapping) else None
    )
    if not pipeline_name:
        raise CraftAmbiguousCreation([])
    return str(pipeline_name)


@dataclass
class Search:
    """One search's state across its rounds: what was listed, and each candidate read once.

    :param candidates: the recent candidates of the last listing, in listed order.
    :param statuses: candidate id -> its status as listed.
    :param matched: candidate id -> whether its inputs match (read once, kept).
    """

    candidates: list[str] = field(default_factory=list)
    statuses: dict[str, str | None] = field(default_factory=dict)
    matched: dict[str, bool] = field(default_factory=dict)

    @property
    def matches(self) -> list[str]:
        return [c for c in self.candidates if self.matched.get(c)]


def search_steps(
    ctx: CallContext, intent: CreationIntent, pipeline_name: str, since: float, search: Search
) -> Steps[list[str]]:
    """One round: list the pipeline's executions (one call), read each recent candidate not read
    in an earlier round (one call each); return the matching ids."""
    deployment_filter = intent.deployment_name if intent.kind != "run" else None
    by: Literal["pipeline", "endpoint"] = "pipeline" if intent.kind == "run" else "endpoint"
    listed = read_list(
        (yield from call_json(ctx, build_list_pipeline_executions(ctx.config, pipeline_name))),
        "the pipeline's executions",
    )
    search.candidates = recent_candidates(listed, since=since, deployment_name=deployment_filter)
    search.statuses.update(
        {str(e["execution_id"]): e.get("status") for e in listed if e.get("execution_id")}
    )
    digests = intent.fingerprint()
    for candidate in search.candidates:
        if candidate in search.matched:
            continue
        execution = read_execution(
            (
                yield from call_json(
                    ctx, build_get_execution(ctx.config, candidate, include_io_values=True)
                )
            )
        )
        search.matched[candidate] = digests_match(execution, digests, by=by)
    return search.matches


def adopt(ctx: CallContext, intent: CreationIntent, *, since: float) -> Steps[str]:
    """Find the execution an ambiguous creating request made (see the module docstring)."""
    if not _searchable(ctx, intent):
        raise CraftAmbiguousCreation(
            [],
            f"Triggering endpoint {intent.deployment_name!r} got no clear answer, and with only "
            "an endpoint token the platform's executions cannot be listed to check whether it "
            "ran. Not re-sending, to avoid running it twice; check the deployment's executions "
            "page.",
        )
    pipeline_name = yield from _pipeline_of(ctx, intent)
    search = Search()
    for round_number in range(len(RECHECK_DELAYS) + 1):
        if round_number:
            yield Sleep(RECHECK_DELAYS[round_number - 1])
        matches = yield from search_steps(ctx, intent, pipeline_name, since, search)
        if len(matches) == 1:
            log.warning("Adopting execution %s, created by the ambiguous request", matches[0])
            return matches[0]
        if len(matches) > 1:
            raise CraftAmbiguousCreation(matches)
    candidates = search.candidates
    message = (
        "The creation request got no clear answer and no execution with the inputs sent was "
        "found"
        + (f" (recent executions with other inputs: {', '.join(candidates)})" if candidates else "")
        + ". Not re-sending it, to avoid running the pipeline twice; check the platform's "
        "executions page."
    )
    raise CraftAmbiguousCreation(candidates, message)


def find_earlier_creation(
    ctx: CallContext, intent: CreationIntent, *, since: float
) -> Steps[str | None]:
    """The execution an earlier try may have created before it died (its intent recorded, no
    id): one search round (the retry delay has passed since). A match that failed is not
    followed: the retry starts a new execution, as after any failed try.

    :return: the id of the one match not failed; ``None`` when there is none, or when nothing
        can be listed (only an endpoint token: the retry then creates, as it does after any
        earlier try on that route).
    :raises CraftAmbiguousCreation: several match; the message names them.
    """
    if not _searchable(ctx, intent):
        log.warning(
            "An earlier try meant to trigger %s and recorded no execution id; with only an "
            "endpoint token the platform's executions cannot be listed to check whether it did. "
            "Triggering it now (an SDK token in the connection lets a retry look first).",
            intent.what,
        )
        return None
    pipeline_name = yield from _pipeline_of(ctx, intent)
    search = Search()
    matches = yield from search_steps(ctx, intent, pipeline_name, since, search)
    failed = [
        m for m in matches if ExecutionStatus.parse(search.statuses.get(m)) in FAILED_STATUSES
    ]
    live = [m for m in matches if m not in failed]
    if len(live) > 1:
        raise CraftAmbiguousCreation(
            live,
            f"An earlier try of this task meant to start {intent.what} and died before "
            f"recording which execution it started; several executions with its inputs were "
            f"created since: {', '.join(live)}. Not starting another and not choosing one.",
        )
    if not live:
        log.info(
            "An earlier try meant to start %s and recorded no execution id; %s: starting one",
            intent.what,
            f"its execution {', '.join(failed)} failed"
            if failed
            else f"none of the {len(search.candidates)} execution(s) created since has its inputs",
        )
        return None
    log.warning("Adopting execution %s, started by an earlier try that died", live[0])
    return live[0]
