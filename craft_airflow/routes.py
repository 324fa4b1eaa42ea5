"""Which credential a task follows its execution with, decided once: :func:`route_for`.

Two routes (contract §5 and §7):

* :class:`SdkRoute`: the SDK token. Status, logs and outputs come from the API; used whenever the
  connection has an SDK token, and for pipelines.
* :class:`EndpointRoute`: the endpoint token of one endpoint, when the connection has no SDK
  token. The endpoint's results route says when the execution ended and gives its outputs; there
  is no status call and no logs.

Operators, the sensor and the trigger ask the route (check once, wait, read logs, read outputs,
start an endpoint execution) and never look at the tokens themselves. A route holds no secret:
:meth:`CraftRoute.to_kwargs` gives its kind and names for the trigger's kwargs, and
:func:`route_from_kwargs` rebuilds it on the triggerer, where the async hook reads the tokens
from the connection again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from craft_airflow.ending import (
    DownloadEndpointFile,
    DownloadOutput,
    ReadEndpointResults,
    ReadLogs,
    ReadMetrics,
    ReadRunOutputs,
    Step,
    store_file_steps,
)
from craft_airflow.errors import CraftAPIError, CraftConfigError, CraftError, CraftInputError
from craft_airflow.outputs import plan_run_outputs, safe_component
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome, outcome_for_status
from craft_airflow.protocol.statuses import ExecutionStatus

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.connection import CraftConnectionConfig
    from craft_airflow.ending import TaskLog
    from craft_airflow.hooks.craft import CraftAIHook
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook
    from craft_airflow.journal import CreationJournal
    from craft_airflow.protocol.calls import CallContext
    from craft_airflow.protocol.following import Following
    from craft_airflow.protocol.http import FileInput, Send, Sleep
    from craft_airflow.protocol.logs import LogCursor

#: Longest wait a sensor's poke spends on the endpoint results route.
MAX_PROBE_SECONDS = 30.0


@dataclass(frozen=True)
class LiveLogs:
    """Live logs for one wait: the follower's state (its cursor moves as lines are shown), the
    seconds between two reads, where the lines go and how a cursor is kept.

    :param state: the follower's :class:`~craft_airflow.protocol.following.Following`.
    :param interval: seconds between two reads.
    :param log: the task's log.
    :param save: keeps a cursor for a retry or a restart, if any (sync on a worker, a
        coroutine function on the triggerer).
    """

    state: Following
    interval: float
    log: TaskLog
    save: Callable[[LogCursor], Any] | None = None

    def finished(self, outcome: WaitOutcome, now: float) -> WaitOutcome:
        """The wait's outcome carrying the cursor (the end copies the lines after it); the last
        status change said."""
        change = self.state.status_change(
            None if outcome.execution_status is None else str(outcome.execution_status), now
        )
        if change is not None:
            self.log.log(change.level, change.message, *change.args)
        return outcome.with_log_cursor(self.state.cursor.to_kwargs())


class RouteKind(StrEnum):
    """The credential an execution is followed with."""

    SDK = "sdk"
    ENDPOINT = "endpoint"


@dataclass(frozen=True)
class CraftRoute(ABC):
    """How one task follows its execution. Build it with :func:`route_for`.

    :param endpoint_name: the endpoint deployment that started the execution, if any (outputs
        are then keyed by endpoint output name).
    :param endpoint_url_path: that endpoint's public path (defaults to ``endpoint_name``).
    """

    kind: ClassVar[RouteKind]
    #: Human words for the credential, for log lines.
    credential: ClassVar[str]

    endpoint_name: str | None = None
    endpoint_url_path: str | None = None

    @property
    def url_path(self) -> str | None:
        """The endpoint's public path: ``endpoint_url_path``, else ``endpoint_name``."""
        return self.endpoint_url_path or self.endpoint_name

    def to_kwargs(self) -> dict[str, str | None]:
        """The route as secret-free, JSON-serialisable trigger kwargs (kind and names)."""
        return {
            "kind": str(self.kind),
            "endpoint_name": self.endpoint_name,
            "endpoint_url_path": self.endpoint_url_path,
        }

    # -- following --------------------------------------------------------------------------

    @abstractmethod
    def check_once(self, hook: CraftAIHook, execution_id: str) -> WaitOutcome | None:
        """The outcome if the execution has already ended, else ``None`` (one status call, plus
        one logs call for a failure); ``None`` too where the route has no status call."""

    def probe(
        self, hook: CraftAIHook, execution_id: str, *, poll_interval: float
    ) -> WaitOutcome | None:
        """Like :meth:`check_once`, but always finds out: where there is no status call, a short
        wait (a sensor's poke) tells."""
        return self.check_once(hook, execution_id)

    @abstractmethod
    def outcome_steps(
        self,
        ctx: CallContext,
        config: CraftConnectionConfig,
        execution_id: str,
        *,
        timeout: float | None,
        poll_interval: float,
    ) -> Generator[Send | Sleep, Any, WaitOutcome]:
        """What waiting for the execution's end fetches, as steps of
        :mod:`~craft_airflow.protocol.waiting` (either hook drives them)."""

    #: Whether the route can show an execution's status and log lines while it runs.
    follows_live: ClassVar[bool] = False

    def wait(
        self,
        hook: CraftAIHook,
        execution_id: str,
        *,
        timeout: float | None,
        poll_interval: float,
        live: LiveLogs | None = None,
    ) -> WaitOutcome:
        """Block until the execution ends or ``timeout`` passes (in the worker); with ``live``,
        its status changes and new log lines go to the task log meanwhile (the follower's steps,
        :mod:`~craft_airflow.protocol.following`, driven beside the wait's)."""
        ctx = hook.call_context
        steps = self.outcome_steps(
            ctx, hook.config, execution_id, timeout=timeout, poll_interval=poll_interval
        )
        if live is None or not self.follows_live:
            return hook.drive(steps)
        from craft_airflow.protocol.following import follow_steps

        follow = follow_steps(ctx, live.state, interval=live.interval)
        outcome = hook.drive_following(steps, follow, live.log, live.save)
        return live.finished(outcome, ctx.clock())

    async def await_outcome(
        self,
        hook: CraftAIAsyncHook,
        execution_id: str,
        *,
        timeout: float | None,
        poll_interval: float,
        live: LiveLogs | None = None,
    ) -> WaitOutcome:
        """Wait until the execution ends or ``timeout`` passes (on the triggerer, no blocking);
        with ``live``, its status changes and new log lines go to the task log meanwhile."""
        ctx = await hook.call_context()
        steps = self.outcome_steps(
            ctx, await hook.get_config(), execution_id, timeout=timeout, poll_interval=poll_interval
        )
        if live is None or not self.follows_live:
            return await hook.drive(steps)
        from craft_airflow.protocol.following import follow_steps

        follow = follow_steps(ctx, live.state, interval=live.interval)
        outcome = await hook.drive_following(steps, follow, live.log, live.save)
        return live.finished(outcome, ctx.clock())

    def show_new_lines(self, hook: CraftAIHook, live: LiveLogs) -> None:
        """Show the status change and the log lines since ``live``'s cursor once (a sensor's
        poke); nothing where the route has no logs."""
        return None

    # -- reading a finished execution: what to fetch, as steps of craft_airflow.ending ---------

    @abstractmethod
    def logs_read(
        self, execution_id: str, after: Mapping[str, Any] | None = None
    ) -> ReadLogs | None:
        """The read of the execution's log lines (those after the cursor ``after``, when a
        live reading showed some); ``None`` where the route has no logs."""

    @abstractmethod
    def metrics_read(self, execution_id: str) -> ReadMetrics | None:
        """The read of the execution's metrics; ``None`` where the route has none."""

    @abstractmethod
    def output_steps(
        self, execution_id: str, dest_dir: ObjectStoragePath
    ) -> Generator[Step, Any, dict[str, Any]]:
        """Read the outputs of a succeeded execution by name; file outputs stored under
        ``dest_dir``, their URI in their place."""

    @abstractmethod
    def adoptable_status(self, hook: CraftAIHook, execution_id: str) -> str:
        """The platform status of an earlier try's execution, ``"NotFound"`` if it is gone, or
        ``"Unknown"`` where the route cannot tell (it is then not adopted)."""

    def read_execution(self, hook: CraftAIHook, execution_id: str) -> dict[str, Any] | None:
        """The execution object without values (§5.3: status, pipeline, deployment, the
        inputs' and outputs' mappings); ``None`` where the route has no status call."""
        return None

    # -- starting (endpoints) ---------------------------------------------------------------

    @abstractmethod
    def trigger_endpoint(
        self,
        hook: CraftAIHook,
        *,
        inputs: dict[str, Any],
        files: Mapping[str, FileInput] | None,
        journal: CreationJournal | None = None,
    ) -> str:
        """Start an execution of the endpoint; return its id (``journal``: see
        :meth:`~craft_airflow.hooks.craft.CraftAIHook.run_pipeline`)."""

    def reads_deployment(self) -> bool:
        """Whether the deployment (URL path, file inputs) can be read before triggering."""
        return False

    def needs_deployment(self) -> bool:
        """Whether triggering fails when the deployment cannot be read."""
        return False

    @property
    def start_credential(self) -> str:
        """Human words for the credential :meth:`trigger_endpoint` uses, for log lines."""
        return self.credential


@dataclass(frozen=True)
class SdkRoute(CraftRoute):
    """Follow with the SDK token.

    :param start_with_endpoint_token: trigger the endpoint with its endpoint token (the
        connection has one for it) rather than through the deployment with the SDK token.
        Used when starting only: not part of the trigger kwargs.
    """

    kind: ClassVar[RouteKind] = RouteKind.SDK
    credential: ClassVar[str] = "SDK token"

    start_with_endpoint_token: bool = False

    def check_once(self, hook: CraftAIHook, execution_id: str) -> WaitOutcome | None:
        # protocol/ is the transports' (imported with the hook): not loaded with a DAG file.
        from craft_airflow.protocol.readers import execution_error_message

        execution = hook.get_execution(execution_id, include_io_values=False)
        outcome = outcome_for_status(
            execution_id,
            ExecutionStatus.parse(execution.get("status")),
            detail=execution_error_message(execution),
        )
        if outcome is not None and outcome.status == OutcomeStatus.FAILED:
            outcome = outcome.with_log_tail(self._logs_or_none(hook, execution_id) or ())
        return outcome

    def _logs_or_none(self, hook: CraftAIHook, execution_id: str) -> list[dict[str, Any]] | None:
        try:
            return hook.get_logs(execution_id)
        except CraftError:
            return None

    follows_live: ClassVar[bool] = True

    def outcome_steps(
        self,
        ctx: CallContext,
        config: CraftConnectionConfig,
        execution_id: str,
        *,
        timeout: float | None,
        poll_interval: float,
    ) -> Generator[Send | Sleep, Any, WaitOutcome]:
        """The outputs long-poll, then the status (a failure's log tail)."""
        from craft_airflow.protocol.waiting import execution_outcome_steps

        return execution_outcome_steps(
            ctx, execution_id, timeout=timeout, poll_interval=poll_interval
        )

    def show_new_lines(self, hook: CraftAIHook, live: LiveLogs) -> None:
        from craft_airflow.protocol.following import tick_steps

        hook.drive_shown(
            tick_steps(hook.call_context, live.state), live.log, live.state.execution_id
        )

    def logs_read(
        self, execution_id: str, after: Mapping[str, Any] | None = None
    ) -> ReadLogs | None:
        return ReadLogs(execution_id, after=None if after is None else dict(after))

    def metrics_read(self, execution_id: str) -> ReadMetrics | None:
        return ReadMetrics(execution_id)

    def output_steps(
        self, execution_id: str, dest_dir: ObjectStoragePath
    ) -> Generator[Step, Any, dict[str, Any]]:
        """The §5.4 outputs: values as they are, run/endpoint-mapped files stored (see
        :func:`~craft_airflow.outputs.plan_run_outputs`), keyed by endpoint output name when
        an endpoint started the execution."""
        items = yield ReadRunOutputs(execution_id)
        result: dict[str, Any] = {}
        for key, fetch, value in plan_run_outputs(items, endpoint_names=bool(self.endpoint_name)):
            if fetch is None:
                result[key] = value
            else:
                dest = dest_dir / safe_component(key)
                download = DownloadOutput(execution_id, fetch)
                result[key] = yield from store_file_steps(dest, download)
        return result

    def read_execution(self, hook: CraftAIHook, execution_id: str) -> dict[str, Any] | None:
        return hook.get_execution(execution_id, include_io_values=False)

    def adoptable_status(self, hook: CraftAIHook, execution_id: str) -> str:
        try:
            execution = hook.get_execution(execution_id, include_io_values=False)
        except CraftAPIError as err:
            if err.status_code == 404:  # deleted on the platform: start a new one
                return "NotFound"
            raise
        return str(execution.get("status"))

    def trigger_endpoint(
        self,
        hook: CraftAIHook,
        *,
        inputs: dict[str, Any],
        files: Mapping[str, FileInput] | None,
        journal: CreationJournal | None = None,
    ) -> str:
        name = self._require_endpoint()
        if self.start_with_endpoint_token:
            return hook.trigger_endpoint(
                name,
                endpoint_url_path=self.endpoint_url_path,
                inputs=inputs,
                files=files,
                journal=journal,
            )
        return hook.trigger_deployment(name, inputs=inputs, files=files, journal=journal)

    def reads_deployment(self) -> bool:
        return True

    def needs_deployment(self) -> bool:
        return not self.start_with_endpoint_token

    @property
    def start_credential(self) -> str:
        return EndpointRoute.credential if self.start_with_endpoint_token else self.credential

    def _require_endpoint(self) -> str:
        if not self.endpoint_name:
            raise CraftInputError("endpoint_name is required to trigger an endpoint")
        return self.endpoint_name


@dataclass(frozen=True)
class EndpointRoute(CraftRoute):
    """Follow through the results route of ``endpoint_name``, with its endpoint token."""

    kind: ClassVar[RouteKind] = RouteKind.ENDPOINT
    credential: ClassVar[str] = "endpoint token"

    def __post_init__(self) -> None:
        if not self.endpoint_name:
            raise CraftInputError("The endpoint route needs an endpoint_name")

    @property
    def name(self) -> str:
        assert self.endpoint_name is not None  # checked in __post_init__
        return self.endpoint_name

    def check_once(self, hook: CraftAIHook, execution_id: str) -> WaitOutcome | None:
        return None  # no status call on this route: the wait that follows finds out

    def probe(
        self, hook: CraftAIHook, execution_id: str, *, poll_interval: float
    ) -> WaitOutcome | None:
        outcome = self.wait(
            hook,
            execution_id,
            timeout=min(max(poll_interval, 1.0), MAX_PROBE_SECONDS),
            poll_interval=poll_interval,
        )
        return None if outcome.status == OutcomeStatus.TIMEOUT else outcome

    def outcome_steps(
        self,
        ctx: CallContext,
        config: CraftConnectionConfig,
        execution_id: str,
        *,
        timeout: float | None,
        poll_interval: float,
    ) -> Generator[Send | Sleep, Any, WaitOutcome]:
        """The endpoint results route (§7.2) with the endpoint token; no status call and no logs
        on this route: nothing to follow live."""
        from craft_airflow.protocol.waiting import endpoint_outcome_steps

        return endpoint_outcome_steps(
            ctx,
            self.url_path or self.name,
            execution_id,
            config.require_endpoint_token(self.name),
            timeout=timeout,
            poll_interval=poll_interval,
        )

    def logs_read(
        self, execution_id: str, after: Mapping[str, Any] | None = None
    ) -> ReadLogs | None:
        return None  # no logs on this route

    def metrics_read(self, execution_id: str) -> ReadMetrics | None:
        return None  # metrics are read with the SDK token

    def output_steps(
        self, execution_id: str, dest_dir: ObjectStoragePath
    ) -> Generator[Step, Any, dict[str, Any]]:
        """The endpoint result body's outputs (§7.2), keyed by endpoint output name: values
        unwrapped, file URLs stored (``None`` for a null URL)."""
        from craft_airflow.protocol.readers import unwrap_endpoint_output  # as in check_once

        name = self.name
        results = yield ReadEndpointResults(name, self.url_path or name, execution_id)
        result: dict[str, Any] = {}
        for output_name, raw in results.items():
            output = unwrap_endpoint_output(raw)
            if output.kind == "file" and output.url is not None:
                dest = dest_dir / safe_component(output_name)
                source = DownloadEndpointFile(output.url, name)
                result[output_name] = yield from store_file_steps(dest, source)
            else:
                result[output_name] = output.value
        return result

    def adoptable_status(self, hook: CraftAIHook, execution_id: str) -> str:
        return "Unknown"  # no status call: an earlier try's execution is not adopted

    def trigger_endpoint(
        self,
        hook: CraftAIHook,
        *,
        inputs: dict[str, Any],
        files: Mapping[str, FileInput] | None,
        journal: CreationJournal | None = None,
    ) -> str:
        return hook.trigger_endpoint(
            self.name,
            endpoint_url_path=self.endpoint_url_path,
            inputs=inputs,
            files=files,
            journal=journal,
        )


def route_for(
    config: CraftConnectionConfig,
    *,
    endpoint_name: str | None = None,
    endpoint_url_path: str | None = None,
) -> CraftRoute:
    """Decide the route from the connection and the endpoint, if any. The one place that does.

    The SDK token whenever the connection has one (it gives status and logs); else the endpoint
    token of ``endpoint_name`` when there is one. Anything else is an :class:`SdkRoute` whose
    first call says that the SDK token is missing.

    :raises CraftConfigError: for an endpoint, when the connection has neither token.
    """
    endpoint_token = config.endpoint_token_for(endpoint_name) if endpoint_name else None
    if endpoint_name and not endpoint_token and not config.sdk_token:
        known = ", ".join(sorted(config.endpoint_tokens)) or "none"
        raise CraftConfigError(
            f"Connection {config.conn_id!r} has no endpoint token for {endpoint_name!r} (extra "
            f"'endpoint_tokens' has: {known}; no default 'endpoint_token') and no SDK token "
            "(password field); expected one of them"
        )
    if endpoint_name and endpoint_token and not config.sdk_token:
        return EndpointRoute(endpoint_name, endpoint_url_path)
    return SdkRoute(
        endpoint_name, endpoint_url_path, start_with_endpoint_token=bool(endpoint_token)
    )


def route_from_kwargs(kwargs: Mapping[str, Any]) -> CraftRoute:
    """Rebuild a route from :meth:`CraftRoute.to_kwargs` (on the triggerer).

    :raises CraftInputError: the kind is unknown.
    """
    kind = kwargs.get("kind")
    name, path = kwargs.get("endpoint_name"), kwargs.get("endpoint_url_path")
    if kind == RouteKind.SDK:
        return SdkRoute(name, path)
    if kind == RouteKind.ENDPOINT:
        return EndpointRoute(name, path)
    raise CraftInputError(
        f"Unknown route kind {kind!r}; expected one of {sorted(k.value for k in RouteKind)}"
    )
