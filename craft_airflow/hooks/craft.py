"""CraftAIHook: the synchronous transport (requests) over :mod:`craft_airflow.protocol`.

The hook only performs the steps the protocol generators yield: it sends HTTP requests (never
following redirects) and sleeps. What a call means, when to retry and what "finished" is are
decided in the protocol core, shared with the async hook.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import requests
from airflow.providers.common.compat.sdk import AirflowNotFoundException
from airflow.sdk import BaseHook
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.fields import RequestField
from urllib3.filepost import choose_boundary

from craft_airflow import CLIENT_ID
from craft_airflow.connection import CONN_TYPE, CraftConnectionConfig, from_connection
from craft_airflow.ending import (
    DownloadEndpointFile,
    DownloadOutput,
    Log,
    Read,
    ReadEndpointResults,
    ReadLogs,
    ReadMetrics,
    ReadRunOutputs,
    Step,
    TaskLog,
)
from craft_airflow.errors import (
    CraftAmbiguousCreation,
    CraftAPIError,
    CraftConfigError,
    CraftConnectionError,
    CraftError,
    clean,
    install_log_redaction,
)
from craft_airflow.get_provider_info import get_provider_info
from craft_airflow.hooks.deadlines import DeadlineAdapter, deadline
from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.outputs import StorageSink, remove_partial, storage_error
from craft_airflow.protocol import builders as b
from craft_airflow.protocol.adoption import (
    CreationIntent,
    create_execution,
    find_earlier_creation,
)
from craft_airflow.protocol.calls import CallContext, call_json, download_steps, perform
from craft_airflow.protocol.decisions import is_not_yet
from craft_airflow.protocol.deployments import (
    DeploymentSpec,
    build_create_deployment,
    build_update_deployment,
)
from craft_airflow.protocol.following import FollowSteps, SaveCursor, Show
from craft_airflow.protocol.http import (
    FailureKind,
    FileInput,
    FileParts,
    HttpRequest,
    Response,
    Send,
    Sleep,
    TransportFailure,
    describe_exception,
    transfer_too_slow,
)
from craft_airflow.protocol.logs import LogCursor, log_lines_steps
from craft_airflow.protocol.metrics import execution_metrics_steps, select_metrics
from craft_airflow.protocol.outcomes import WaitOutcome
from craft_airflow.protocol.readers import (
    decode_body,
    read_execution,
    read_list,
    read_outputs,
)
from craft_airflow.protocol.waiting import (
    endpoint_outcome_steps,
    endpoint_results_steps,
    execution_outcome_steps,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.journal import CreationJournal

T = TypeVar("T")
CHUNK_SIZE = 1024 * 1024
#: Bytes read at a time from an answer read into memory (checked against its size bound).
READ_CHUNK_SIZE = 64 * 1024

# craft_airflow: the protocol core's loggers (imported above); the hook's own logger is under
# airflow.task, covered by Airflow's secrets masker.
install_log_redaction("urllib3", "urllib3.connectionpool", "requests", "craft_airflow")


def _never_sent(exc: BaseException) -> bool:
    """Whether a requests/urllib3 connection error happened before anything was sent."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectTimeoutError | ConnectionRefusedError):
            return True
        if isinstance(current, BaseException):
            stack.extend(current.args)
            stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
    return False


def classify_requests_exception(exc: requests.RequestException) -> FailureKind:
    """Map a requests exception to what is known about the request having been sent."""
    if isinstance(exc, requests.exceptions.SSLError):
        return FailureKind.FATAL
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return FailureKind.NOT_SENT
    if isinstance(exc, requests.exceptions.ConnectionError):
        return FailureKind.NOT_SENT if _never_sent(exc) else FailureKind.NO_ANSWER
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.InvalidHeader,
    ):
        return FailureKind.FATAL
    return FailureKind.NO_ANSWER


class MultipartBody:
    """A ``multipart/form-data`` body sent piece by piece: file parts are read from their
    (rewound) streams ``CHUNK_SIZE`` at a time, never whole (``requests``' own ``files=``
    encoding reads every file into memory and copies it into the body).

    Parts are encoded as ``requests``/``urllib3`` would: text fields first, then files.
    """

    def __init__(self, fields: Mapping[str, str], files: FileParts) -> None:
        boundary = choose_boundary()
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self._pieces: list[bytes | tuple[BinaryIO, int]] = []
        for name, value in fields.items():
            field = RequestField(name=name, data=value)
            field.make_multipart()
            head = f"--{boundary}\r\n{field.render_headers()}"
            self._pieces.append(head.encode() + value.encode() + b"\r\n")
        for name, part in files:
            field = RequestField(name=name, data=b"", filename=part.filename)
            field.make_multipart()
            stream = part.rewound()
            size = stream.seek(0, io.SEEK_END) - (part.offset or 0)
            part.rewound()
            self._pieces += [
                f"--{boundary}\r\n{field.render_headers()}".encode(),
                (stream, size),
                b"\r\n",
            ]
        self._pieces.append(f"--{boundary}--\r\n".encode())
        self._length = sum(p[1] if isinstance(p, tuple) else len(p) for p in self._pieces)
        self._index = 0
        self._offset = 0

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (at most ``CHUNK_SIZE``: ``-1`` does not read everything)."""
        size = CHUNK_SIZE if size is None or size < 0 else min(size, CHUNK_SIZE)
        while self._index < len(self._pieces):
            piece = self._pieces[self._index]
            if isinstance(piece, tuple):
                stream, length = piece
                chunk = stream.read(min(size, length - self._offset))
                if not chunk and self._offset < length:
                    raise OSError(f"file input ended after {self._offset} of {length} bytes")
            else:
                chunk = piece[self._offset : self._offset + size]
                length = len(piece)
            self._offset += len(chunk)
            if self._offset >= length:
                self._index, self._offset = self._index + 1, 0
            if chunk:
                return chunk
        return b""

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK_SIZE):
            yield chunk


def requests_kwargs(step: Send) -> dict[str, Any]:
    """Arguments of ``requests.Session.request`` for one step (redirects never followed; the
    body always streamed: the hook reads it with the step's size bound).

    With file parts the body is a fresh :class:`MultipartBody` (streamed, ``Content-Length``
    known), so a retry re-sends the files from their start.
    """
    request = step.request
    headers = request.all_headers(step.bearer, CLIENT_ID)
    data: Any = dict(request.data) if request.data else None
    if request.files:
        data = MultipartBody(data or {}, request.files)
        headers["Content-Type"] = data.content_type
    return {
        "method": request.method,
        "url": request.url,
        "params": list(request.params) or None,
        "headers": headers,
        "json": request.json,
        "data": data,
        "allow_redirects": False,
        "timeout": (step.timeouts.connect, step.timeouts.read),
        "stream": True,
    }


def _read_bounded(raw: requests.Response, step: Send) -> bytes | None:
    """The whole body of ``raw``, or ``None`` when it is larger than the step's ``max_bytes``
    (reading stops there, without reading the rest)."""
    declared = raw.headers.get("content-length", "")
    if declared.isdigit() and not step.body_fits(int(declared)):
        return None
    body = bytearray()
    for chunk in raw.iter_content(chunk_size=READ_CHUNK_SIZE):
        body += chunk
        if not step.body_fits(len(body)):
            return None
    return bytes(body)


def _endpoint_tokens_summary(config: CraftConnectionConfig) -> str:
    names = sorted(config.endpoint_tokens)
    parts = []
    if names:
        parts.append(f"endpoint tokens set for {', '.join(names)}")
    if config.default_endpoint_token:
        parts.append("a default endpoint token set")
    if not parts:
        return "no endpoint token set (endpoints are triggered with the SDK token)"
    return " and ".join(parts) + " (not sent: checking one would trigger its endpoint)"


class CraftAIHook(BaseHook):
    """Talk to a Craft AI environment with ``requests``.

    :param craft_conn_id: Airflow connection of type ``craftai`` (host = environment URL,
        password = SDK token, extras: see :mod:`craft_airflow.connection`).
    """

    conn_name_attr = "craft_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Craft AI"

    @classmethod
    def _declared_connection_type(cls) -> dict[str, Any]:
        (connection,) = [
            c
            for c in get_provider_info()["connection-types"]
            if c["connection-type"] == cls.conn_type
        ]
        return dict(connection)

    # Airflow 3.1 builds the connection form from these two methods only. Airflow 3.2+ reads
    # "conn-fields" and "ui-field-behaviour" from get_provider_info() and never calls them
    # (they are deprecated there); both are derived from get_provider_info(), the one source.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The extras of the connection form (Airflow 3.1)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, IntegerField, PasswordField, StringField
        from wtforms.validators import Optional

        widgets: dict[str, Any] = {}
        connection = cls._declared_connection_type()
        for name, field in connection["conn-fields"].items():
            schema = field["schema"]
            label = lazy_gettext(field["label"])
            description = field.get("description", "")
            kind = next(t for t in schema["type"] if t != "null")
            default = schema.get("default")
            if schema.get("format") == "password":
                widgets[name] = PasswordField(
                    label, description=description, widget=BS3PasswordFieldWidget()
                )
            elif kind == "boolean":
                widgets[name] = BooleanField(label, description=description, default=default)
            elif kind == "integer":
                widgets[name] = IntegerField(
                    label,
                    validators=[Optional()],
                    description=description,
                    default=default,
                    widget=BS3TextFieldWidget(),
                )
            else:  # string, number: FloatField is not among the field classes 3.1 accepts
                widgets[name] = StringField(
                    label,
                    description=description,
                    default=None if default is None else str(default),
                    widget=BS3TextFieldWidget(),
                )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form (Airflow 3.1)."""
        behaviour = cls._declared_connection_type()["ui-field-behaviour"]
        return {
            "hidden_fields": behaviour["hidden-fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        }

    def __init__(self, craft_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.craft_conn_id = craft_conn_id
        self._session: requests.Session | None = None

    # -- configuration and transport ------------------------------------------------------

    @cached_property
    def config(self) -> CraftConnectionConfig:
        """The validated connection configuration (secrets registered with the masker)."""
        try:
            conn = self.get_connection(self.craft_conn_id)
        except AirflowNotFoundException:
            env = f"AIRFLOW_CONN_{self.craft_conn_id.upper()}"
            raise CraftConfigError(
                f"Connection {self.craft_conn_id!r} (craft_conn_id) is not defined; expected a "
                f"connection of type {CONN_TYPE!r} (Admin > Connections, or the {env} environment "
                "variable)"
            ) from None
        return from_connection(conn)

    @cached_property
    def _ctx(self) -> CallContext:
        return CallContext(self.config)

    @property
    def session(self) -> requests.Session:
        """The HTTP session (created on first use, TLS check from the connection)."""
        if self._session is None:
            session = requests.Session()
            session.verify = self.config.verify_tls
            session.trust_env = True
            for prefix in ("http://", "https://"):  # every attempt under its overall deadline
                session.mount(prefix, DeadlineAdapter())
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def _send(self, step: Send) -> Response | TransportFailure:
        request = step.request
        started = time.monotonic()
        with deadline(step.timeouts.total) as guard:
            try:
                raw = self.session.request(**requests_kwargs(step))
            except requests.RequestException as exc:
                if guard.expired:
                    return step.too_slow()
                return TransportFailure(classify_requests_exception(exc), self._detail(exc))
            elapsed = time.monotonic() - started
            if request.stream and raw.status_code < 300:
                # The caller reads the body, under its own deadline (see _stream_to).
                return Response(raw.status_code, dict(raw.headers), b"", elapsed, raw)
            try:
                body = _read_bounded(raw, step)
            except requests.RequestException as exc:
                if guard.expired:
                    return step.too_slow()
                return TransportFailure(FailureKind.NO_ANSWER, self._detail(exc))
            finally:
                raw.close()
            if guard.expired:
                return step.too_slow()
        if body is None:
            return step.too_large(raw.status_code)
        return Response(raw.status_code, dict(raw.headers), body, elapsed)

    def _detail(self, exc: BaseException) -> str:
        """A short, redacted description of a transport exception (its root cause)."""
        cause: Any = exc
        reason = getattr(cause.args[0], "reason", None) if cause.args else None
        if isinstance(reason, BaseException):
            cause = reason
        return describe_exception(cause)

    def _drive(self, steps: Generator[Send | Sleep, Any, T]) -> T:
        """Perform the steps of a protocol generator until it returns."""
        result: Any = None
        while True:
            try:
                step = steps.send(result)
            except StopIteration as stop:
                value: T = stop.value
                return value
            if isinstance(step, Sleep):
                self.log.debug("Waiting %.1f s before the next request", step.seconds)
                time.sleep(step.seconds)
                result = None
            else:
                self.log.debug("Craft AI: %s", step.request.describe())
                result = self._send(step)

    @property
    def call_context(self) -> CallContext:
        """The context the protocol steps this hook performs are built with."""
        return self._ctx

    def drive(self, steps: Generator[Send | Sleep, Any, T]) -> T:
        """Perform the steps of a protocol generator until it returns (the routes build them)."""
        return self._drive(steps)

    def drive_following(
        self,
        steps: Generator[Send | Sleep, Any, T],
        follow: FollowSteps,
        log: TaskLog,
        save: Callable[[LogCursor], object] | None = None,
    ) -> T:
        """Perform ``steps`` (a wait) on this thread, and ``follow``
        (:func:`~craft_airflow.protocol.following.follow_steps`) on a thread of its own with a
        session of its own, until the wait returns. The follower is then stopped between two
        steps: a line it read but did not show yet stays out of its cursor (the end copies it).

        :param log: where the follower's lines go (the task's log).
        :param save: keeps a cursor for a retry (best effort), if any.
        """
        lock = threading.Lock()
        stopped = threading.Event()
        follower = CraftAIHook(self.craft_conn_id)
        follower.__dict__["config"] = self.config  # read once, by this hook
        thread = threading.Thread(
            target=follower._follow,
            args=(follow, log, save, lock, stopped),
            name="craft-live-logs",
            daemon=True,  # a read in flight when the wait ends is left to finish on its own
        )
        thread.start()
        try:
            return self._drive(steps)
        finally:
            with lock:
                stopped.set()

    def drive_shown(self, steps: FollowSteps, log: TaskLog, execution_id: str) -> None:
        """Perform one reading of a follower (a sensor's poke: the status change and the new
        lines once) on this thread, its lines to ``log``. A failed read is logged, not raised:
        a poke must not fail because the logs could not be read."""
        result: Any = None
        try:
            while True:
                try:
                    step = steps.send(result)
                except StopIteration:
                    return
                result = None
                if isinstance(step, Show):
                    log.log(step.level, step.message, *step.args)
                elif not isinstance(step, SaveCursor):  # a poke keeps its cursor in the sensor
                    result = self._drive(_single(step))
        except CraftError as err:
            log.log(
                logging.WARNING,
                "Live logs of Craft AI execution %s: %s",
                execution_id,
                clean(str(err)),
            )

    def _follow(
        self,
        follow: FollowSteps,
        log: TaskLog,
        save: Callable[[LogCursor], object] | None,
        lock: threading.Lock,
        stopped: threading.Event,
    ) -> None:
        """The follower thread of :meth:`drive_following`: every step but a send or a sleep
        happens under ``lock``, so that once ``stopped`` is set nothing more is shown."""
        result: Any = None
        try:
            while True:
                with lock:
                    if stopped.is_set():
                        return
                    step = follow.send(result)
                    result = None
                    while isinstance(step, Show | SaveCursor):
                        if isinstance(step, Show):
                            log.log(step.level, step.message, *step.args)
                        elif save is not None:
                            _save_quietly(save, step.cursor, log)
                        step = follow.send(None)
                if isinstance(step, Sleep):
                    stopped.wait(step.seconds)
                else:
                    result = self._send(step)
        except Exception as err:  # following never fails the task: say so once, stop
            log.log(logging.WARNING, "Live logs stopped: %s", clean(str(err)))
        finally:
            follow.close()
            self.close()

    def _json(self, request: HttpRequest) -> Any:
        return self._drive(call_json(self._ctx, request))

    def _create(
        self,
        request: HttpRequest,
        intent: CreationIntent,
        what: str,
        journal: CreationJournal | None = None,
    ) -> str:
        """Send a creating request (adopting after ambiguity); return the execution id.

        With a ``journal`` (the task's state store, :mod:`craft_airflow.journal`): an earlier
        try's execution is looked for first when its intent has no id; this try's intent is
        recorded before the request, the id right after the answer.
        """
        if journal is not None:
            earlier = journal.earlier_intent()
            if earlier is not None:
                try:
                    found = self._drive(
                        find_earlier_creation(self._ctx, earlier.intent, since=earlier.since)
                    )
                except CraftAmbiguousCreation as err:
                    raise CraftAmbiguousCreation(
                        err.candidates, f"{err} {journal.how_to_choose()}"
                    ) from None
                if found is not None:
                    journal.created(found)
                    self.log.info("Following execution %s of %s", found, what)
                    return found
            journal.record(intent)
        execution_id = self._drive(create_execution(self._ctx, request, intent))
        if journal is not None:
            journal.created(execution_id)
        self.log.info("Started execution %s of %s", execution_id, what)
        return execution_id

    def _stream_to(self, request: HttpRequest, dest: BinaryIO) -> int:
        request, response = self._drive(download_steps(self._ctx, request))
        raw = response.raw
        if raw is None:
            raise CraftAPIError(
                response.status, f"{request.operation}: answered {response.status} without a file"
            )
        written = 0
        seconds = self.config.transfer_timeout
        with deadline(seconds, raw.raw.connection) as guard:
            try:
                for chunk in raw.iter_content(chunk_size=CHUNK_SIZE):
                    if chunk:
                        dest.write(chunk)
                        written += len(chunk)
            except requests.RequestException as exc:
                if not guard.expired:
                    raise CraftConnectionError(
                        f"{request.operation} broke off after {written} bytes: "
                        f"{type(exc).__name__}: {exc}"
                    ) from None
            finally:
                raw.close()
            if guard.expired:
                raise transfer_too_slow(request.operation, written, seconds)
        return written

    # -- public API -------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection with one attempt per call (Airflow's Test button,
        ``airflow connections test``, ``POST /api/v2/connections/test``): the environment is
        reachable (``environment-info``), the SDK token is accepted (refresh at the control URL,
        then ``users/me``), and which endpoint tokens are set (not sent: the platform has no call
        that checks one without triggering its endpoint).

        The message does not name the connection: Airflow's REST test (behind the Test button)
        stores the posted connection under a random temporary id, which would mean nothing to
        the user, and offers no public way to learn the posted one.

        :return: success, and a message saying what was checked or why it failed.
        """
        try:
            config = self.config
            ctx = CallContext(config, single_attempt=True)
            info = self._drive(call_json(ctx, b.build_environment_info(config))) or {}
            env = info.get("environment_id") if isinstance(info, dict) else None
            checked = [f"environment {env or '(no id)'} reachable at {config.environment_url}"]
            if config.sdk_token:
                me = self._drive(call_json(ctx, b.build_users_me(config))) or {}
                who = me.get("name") or me.get("email") or me.get("id") or "unknown user"
                checked.append(f"SDK token accepted by {config.control_url} (user {who})")
            else:
                checked.append("no SDK token (only endpoints with a token can be triggered)")
            checked.append(_endpoint_tokens_summary(config))
            message = "; ".join(checked) + "."
            return True, message[0].upper() + message[1:]
        except Exception as exc:
            named = f"onnection {self.craft_conn_id!r}"
            text = str(exc).replace(f"C{named}: ", "").replace(f"C{named}", "The connection")
            return False, clean(text.replace(f"c{named}", "the connection"))

    def get_pipeline(self, pipeline_name: str) -> dict[str, Any]:
        """Return the pipeline definition (§3.2)."""
        return dict(self._json(b.build_get_pipeline(self.config, pipeline_name)) or {})

    def run_pipeline(
        self,
        pipeline_name: str,
        *,
        inputs: dict[str, Any] | None = None,
        files: Mapping[str, FileInput | tuple[str, BinaryIO]] | None = None,
        inputs_mapping: list[dict[str, Any]] | None = None,
        outputs_mapping: list[dict[str, Any]] | None = None,
        journal: CreationJournal | None = None,
    ) -> str:
        """Run a pipeline (§5.1) and return the execution id (without waiting).

        :param inputs: non-file inputs, sent in ``json_inputs``.
        :param files: file inputs by input name.
        :param inputs_mapping: InputSource dicts (§3.3).
        :param outputs_mapping: OutputDestination dicts (§3.3).
        :param journal: where a task records its intent and the id (:mod:`craft_airflow.journal`).
        :raises CraftAmbiguousCreation: the request may have run without the id coming back.
        """
        request = b.build_run_pipeline(
            self.config,
            pipeline_name,
            inputs=inputs,
            files=files,
            inputs_mapping=inputs_mapping,
            outputs_mapping=outputs_mapping,
        )
        intent = CreationIntent("run", pipeline_name=pipeline_name, inputs=dict(inputs or {}))
        return self._create(request, intent, f"pipeline {pipeline_name}", journal)

    def get_deployment(self, deployment_name: str) -> dict[str, Any]:
        """Return the deployment (§6.1). It may hold the endpoint token: do not log it."""
        return dict(self._json(b.build_get_deployment(self.config, deployment_name)) or {})

    def trigger_deployment(
        self,
        deployment_name: str,
        *,
        inputs: dict[str, Any] | None = None,
        files: Mapping[str, FileInput | tuple[str, BinaryIO]] | None = None,
        journal: CreationJournal | None = None,
    ) -> str:
        """Trigger a deployment with the SDK token (§6.4); return the execution id.

        :param journal: see :meth:`run_pipeline`.
        """
        request = b.build_trigger_deployment(
            self.config, deployment_name, inputs=inputs, files=files
        )
        intent = CreationIntent(
            "deployment", deployment_name=deployment_name, inputs=dict(inputs or {})
        )
        return self._create(request, intent, f"deployment {deployment_name}", journal)

    def trigger_endpoint(
        self,
        deployment_name: str,
        *,
        endpoint_url_path: str | None = None,
        inputs: dict[str, Any] | None = None,
        files: Mapping[str, FileInput | tuple[str, BinaryIO]] | None = None,
        journal: CreationJournal | None = None,
    ) -> str:
        """Trigger an endpoint with its EndpointToken (§7.1); return the execution id.

        :param endpoint_url_path: public path of the endpoint; defaults to the deployment name.
        :param journal: see :meth:`run_pipeline`.
        """
        token = self.config.require_endpoint_token(deployment_name)
        request = b.build_trigger_endpoint(
            self.config, endpoint_url_path or deployment_name, token, inputs=inputs, files=files
        )
        intent = CreationIntent(
            "endpoint", deployment_name=deployment_name, inputs=dict(inputs or {})
        )
        return self._create(request, intent, f"endpoint {deployment_name}", journal)

    def get_execution(
        self, execution_id: str, *, include_io_values: bool = False
    ) -> dict[str, Any]:
        """Return the execution object (§5.3)."""
        request = b.build_get_execution(
            self.config, execution_id, include_io_values=include_io_values
        )
        return read_execution(self._json(request))

    def wait_for_outcome(
        self, execution_id: str, *, timeout: float | None = None, poll_interval: float = 5.0
    ) -> WaitOutcome:
        """Block until the execution ends or ``timeout`` passes, following it with the SDK token
        (same decisions as the trigger); a failure's outcome carries the last log lines.

        :param timeout: seconds to wait at most (``None``: no limit).
        :param poll_interval: pause after a "not yet" answered in under a second.
        :raises CraftError: when the execution cannot be followed (auth, unreachable...).
        """
        return self._drive(
            execution_outcome_steps(
                self._ctx, execution_id, timeout=timeout, poll_interval=poll_interval
            )
        )

    def wait_for_endpoint_outcome(
        self,
        endpoint_name: str,
        execution_id: str,
        *,
        endpoint_url_path: str | None = None,
        timeout: float | None = None,
        poll_interval: float = 5.0,
    ) -> WaitOutcome:
        """Block until the execution ends or ``timeout`` passes, following it through the
        endpoint results route (§7.2) with the endpoint token of ``endpoint_name``.

        :param endpoint_url_path: the endpoint's public path (defaults to ``endpoint_name``).
        :raises CraftError: when the execution cannot be followed.
        """
        token = self.config.require_endpoint_token(endpoint_name)
        return self._drive(
            endpoint_outcome_steps(
                self._ctx,
                endpoint_url_path or endpoint_name,
                execution_id,
                token,
                timeout=timeout,
                poll_interval=poll_interval,
            )
        )

    def get_outputs(self, execution_id: str) -> list[dict[str, Any]]:
        """Return the §5.4 outputs list of a finished execution (one answer, no waiting).

        :raises CraftAPIError: the execution is not finished.
        """
        request = b.build_wait_outputs(self.config, execution_id)
        response = self._drive(perform(self._ctx, request))
        if is_not_yet(request, response):
            raise CraftAPIError(response.status, f"Execution {execution_id} is not finished yet")
        return read_outputs(
            decode_body(
                response.status, response.body, response.content_type, operation=request.operation
            )
        )

    def download_output(self, execution_id: str, output_name: str, dest: BinaryIO) -> int:
        """Stream one output's bytes (§5.5) into ``dest``; return the number of bytes written."""
        request = b.build_download_output(self.config, execution_id, output_name)
        return self._stream_to(request, dest)

    def get_endpoint_results(
        self, endpoint_url_path: str, execution_id: str, *, endpoint_name: str
    ) -> dict[str, Any]:
        """Return the final ``outputs`` dict of the endpoint route (§7.2), raw per output:
        ``{"value": v}``, ``{"url": u}`` or a bare value (see
        :func:`craft_airflow.protocol.unwrap_endpoint_output`).

        :raises CraftExecutionFailed: the endpoint reports the execution failed.
        :raises CraftAPIError: not finished yet, or another error.
        """
        token = self.config.require_endpoint_token(endpoint_name)
        return self._drive(
            endpoint_results_steps(self._ctx, endpoint_url_path, execution_id, token)
        )

    def download_endpoint_file(self, url: str, dest: BinaryIO, *, endpoint_name: str) -> int:
        """Stream a file output of the endpoint route (``<url>?token=``) into ``dest``."""
        token = self.config.require_endpoint_token(endpoint_name)
        return self._stream_to(b.build_download_endpoint_file(self.config, url, token), dest)

    def get_logs(
        self, execution_id: str, *, after: LogCursor | None = None
    ) -> list[dict[str, Any]]:
        """Return the execution's log lines ``[{timestamp, message}]`` (first step, §5.7), read
        in pages; at most :data:`~craft_airflow.protocol.logs.MAX_LOG_LINES` (the last ones, a
        first line saying how many were left out); with ``after``, only the lines after that
        cursor (those a live reading did not show)."""
        return self._drive(log_lines_steps(self._ctx, execution_id, after=after))

    def get_metrics(self, execution_id: str) -> dict[str, Any]:
        """Return the execution's metrics (§9.1): ``{name: number}`` for single-value metrics,
        ``{name: [numbers]}`` for list metrics; ``{}`` when it recorded none."""
        return self._drive(execution_metrics_steps(self._ctx, execution_id))

    def get_execution_metrics(
        self, execution_id: str, names: str | Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Return the metrics the execution recorded, for a DAG to decide on them.

        :param execution_id: the execution (e.g. the ``execution_id`` XCom of a Craft task).
        :param names: the metrics wanted (one name or several); ``None``: all of them.
        :return: ``{name: number}`` for single-value metrics, ``{name: [numbers]}`` for list
            metrics.
        :raises CraftError: the platform has no such execution, or it recorded no metric of a
            name asked for (the error names it and the metrics it did record).
        """
        metrics = self._drive(
            execution_metrics_steps(self._ctx, execution_id, check_execution=True)
        )
        return select_metrics(metrics, names, execution_id)

    def find_deployment(self, deployment_name: str) -> dict[str, Any] | None:
        """Return the deployment (§6.1), ``None`` when the platform has none of that name.
        It may hold the endpoint token: do not log it."""
        try:
            return self.get_deployment(deployment_name)
        except CraftAPIError as exc:
            if exc.status_code == 404:
                return None
            raise

    def create_deployment(self, spec: DeploymentSpec) -> None:
        """Create the deployment ``spec`` describes (§6.5; read it back with
        :meth:`get_deployment`). Not re-sent after an ambiguous failure."""
        self._json(build_create_deployment(self.config, spec))

    def update_deployment(self, deployment_name: str, change: Mapping[str, Any]) -> None:
        """Apply one property change to a deployment (§6.5 ``PATCH``)."""
        self._json(build_update_deployment(self.config, deployment_name, change))

    def list_pipeline_executions(self, pipeline_name: str) -> list[dict[str, Any]]:
        """Return the pipeline's executions (§5.2)."""
        return read_list(
            self._json(b.build_list_pipeline_executions(self.config, pipeline_name)),
            "the pipeline's executions",
        )


# -- a task's ending (craft_airflow.ending), on a worker ---------------------------------------


def drive_ending(hook: CraftAIHook, steps: Generator[Step, Any, T], log: TaskLog) -> T:
    """Perform the steps of :func:`craft_airflow.ending.ending_steps` (or any generator of
    ending steps) with ``hook`` until it returns; a failed step is thrown back into it."""
    result: Any = None
    failure: Exception | None = None
    while True:
        try:
            step = steps.throw(failure) if failure is not None else steps.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, failure = None, None
        if isinstance(step, Log):
            log.log(step.level, step.message, *step.args)
            continue
        try:
            result = perform_read(hook, step)
        except Exception as err:
            failure = err


def perform_read(hook: CraftAIHook, step: Read) -> Any:
    """One read of a finished execution, answered as the step says."""
    if isinstance(step, ReadLogs):
        return hook.get_logs(step.execution_id, after=LogCursor.from_kwargs(step.after))
    if isinstance(step, ReadMetrics):
        return hook.get_metrics(step.execution_id)
    if isinstance(step, ReadRunOutputs):
        return hook.get_outputs(step.execution_id)
    if isinstance(step, ReadEndpointResults):
        return hook.get_endpoint_results(
            step.url_path, step.execution_id, endpoint_name=step.endpoint_name
        )
    source = step.download
    if isinstance(source, DownloadOutput):
        return store_file(
            step.dest,
            lambda sink: hook.download_output(source.execution_id, source.output_name, sink),
        )
    assert isinstance(source, DownloadEndpointFile)
    return store_file(
        step.dest,
        lambda sink: hook.download_endpoint_file(
            source.url, sink, endpoint_name=source.endpoint_name
        ),
    )


def store_file(dest: ObjectStoragePath, download: Callable[[BinaryIO], int]) -> int:
    """Stream one file into ``dest`` with ``download(sink)``; return the number of bytes.

    :raises CraftError: naming the output and the location when storage refuses the file.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        opened = dest.open("wb")
    except OSError as err:
        raise storage_error(dest, err) from None
    try:
        with opened as sink:
            size = download(cast(BinaryIO, StorageSink(dest, sink)))
    except BaseException:
        remove_partial(dest)
        raise
    return size


def _save_quietly(save: Callable[[LogCursor], object], cursor: LogCursor, log: TaskLog) -> None:
    try:
        save(cursor)
    except Exception as err:  # a cursor not kept only means more repeats after a retry
        log.log(logging.DEBUG, "Could not keep the live log cursor: %s", clean(str(err)))


__all__ = ["CraftAIHook", "drive_ending", "store_file"]


def _single(step: Send | Sleep) -> Generator[Send | Sleep, Any, Any]:
    """A generator of the one step ``step``, returning its answer."""
    return (yield step)
