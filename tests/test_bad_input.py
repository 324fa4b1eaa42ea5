"""The bad-input table: what a user sees when something they gave is wrong.

One row per mistake: how it is provoked, and fragments of the message the user gets (the
exception that fails the Airflow task, or the error raised when the DAG is parsed or
rendered). Each message must name the field and say what was expected; no token may appear in
any of them.

The rows go through the real code: the operators' and the sensor's ``execute()`` with a task
context, against the embedded platform over HTTP; connection parsing through the hook; the
template and XCom rows through ``dag.test()`` of a real Airflow. Only what a real platform
cannot produce on demand (a bare 500, a proxy's HTML page, a ``Skipped`` execution) comes from
a small stub HTTP server, and the ``Error`` status from a second platform killed and
restarted under a running execution.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSkipException

from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
    CraftConfigError,
    CraftConnectionError,
    CraftError,
    CraftExecutionFailed,
    CraftInputError,
)
from craft_airflow.inputs.mappings import InputSource, OutputDestination
from craft_local.examples import EXAMPLE_PIPELINES

ENDPOINT_TOKENS = {
    "all-types-endpoint": "all-types-endpoint-local-token",
    "word-count-endpoint": "word-count-endpoint-local-token",
}
WRONG_ENDPOINT_TOKEN = "wrong-endpoint-token-5b7d21"
# Every secret a row may have put in a connection: none may show up in a message.
SECRETS = (*ENDPOINT_TOKENS.values(), WRONG_ENDPOINT_TOKEN, "eyJ")
FAST = {"max_retries": 1, "max_retry_seconds": 3, "request_timeout": 10}


# -- a stub HTTP server for answers a real platform does not give on demand -------------------


class Stub:
    """Answers ``(method, path)`` from a table; anything else is a 404 JSON error."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, str, bytes]] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                status, content_type, body = stub.routes.get(
                    (self.command, path),
                    (404, "application/json", b'{"message": "not scripted", "name": "Stub"}'),
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def on(self, method: str, path: str, status: int, body: Any, content_type: str) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes[(method, path)] = (status, content_type, data)


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    server = Stub()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- what every row gets ------------------------------------------------------------------------


@dataclass
class Env:
    platform: Any
    stub: Stub
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    request: pytest.FixtureRequest
    secrets: tuple[str, ...]

    def connect(
        self,
        conn_id: str = "craft_ai_default",
        host: str | None = None,
        password: str | None = "",
        **extra: Any,
    ) -> str:
        """Define connection ``conn_id`` (environment variable); defaults: the platform."""
        conn: dict[str, Any] = {
            "conn_type": "craftai",
            "host": self.platform.url if host is None else host,
            "extra": {"control_url": self.platform.url, **FAST, **extra},
        }
        password = self.platform.sdk_token if password == "" else password
        if password is not None:
            conn["password"] = password
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    def context(self) -> dict[str, Any]:
        """A task context as the task runner gives it (the parts the operators read)."""
        ti = SimpleNamespace(
            dag_id="bad_input",
            run_id="manual__bad_input",
            task_id="task",
            map_index=-1,
            try_number=1,
            stats_tags={},
            xcoms={},
        )
        ti.xcom_push = lambda key, value: ti.xcoms.__setitem__(key, value)
        store: dict[str, Any] = {}
        return {
            "ti": ti,
            "task_instance": ti,
            "run_id": ti.run_id,
            "task_state_store": SimpleNamespace(get=store.get, set=store.__setitem__),
        }


@pytest.fixture
def env(craft_platform, stub, tmp_path, monkeypatch, request) -> Env:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow-home"))
    secrets = (*SECRETS, craft_platform.sdk_token)
    environment = Env(craft_platform, stub, tmp_path, monkeypatch, request, secrets)
    environment.connect()
    return environment


# -- how rows provoke their mistake --------------------------------------------------------------


def run_pipeline(env: Env, **kwargs: Any) -> Any:
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    kwargs.setdefault("pipeline_name", "all-types")
    kwargs.setdefault("deferrable", False)
    op = CraftRunPipelineOperator(task_id="task", poll_interval=0.2, **kwargs)
    return op.execute(env.context())


def run_all_types(**inputs: Any) -> Callable[[Env], Any]:
    """Run ``all-types`` with ``text`` given and these inputs on top."""
    return lambda env: run_pipeline(env, inputs={"text": "hello", **inputs})


def craft_folder_as_file_input(env: Env) -> Any:
    """A ``craft://`` folder (an object lives below it) given as a file input."""
    from airflow.sdk import ObjectStoragePath

    ObjectStoragePath("craft://craft_ai_default@/bad-input/folder/x.txt").write_text("x")
    return run_all_types(document="craft://craft_ai_default@/bad-input/folder")(env)


def craft_path_without_sdk_token(env: Env) -> Any:
    env.connect("craft_no_sdk", password=None)
    return run_all_types(document="craft://craft_no_sdk@/x.txt")(env)


def deploy(env: Env, **kwargs: Any) -> Any:
    """A periodic deployment of ``slow`` with every input and output mapped, but ``kwargs``."""
    from craft_airflow.operators.deployment import CraftDeploymentOperator

    arguments: dict[str, Any] = {
        "deployment_name": "bad-input-periodic",
        "pipeline_name": "slow",
        "execution_rule": "periodic",
        "schedule": "0 0 1 1 *",
        "inputs_mapping": [InputSource(pipeline_input_name="seconds", constant_value=1)],
        "outputs_mapping": [OutputDestination(pipeline_output_name="slept", is_null=True)],
        **kwargs,
    }
    return CraftDeploymentOperator(task_id="task", **arguments).execute(env.context())


def trigger_endpoint(env: Env, **kwargs: Any) -> Any:
    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator

    kwargs.setdefault("endpoint_name", "all-types-endpoint")
    kwargs.setdefault("deferrable", False)
    op = CraftTriggerEndpointOperator(task_id="task", poll_interval=0.2, **kwargs)
    return op.execute(env.context())


def sense(env: Env, execution_id: str, **kwargs: Any) -> Any:
    from craft_airflow.sensors.execution import CraftExecutionSensor

    kwargs.setdefault("deferrable", False)
    sensor = CraftExecutionSensor(
        task_id="task", execution_id=execution_id, poke_interval=0.2, timeout=30, **kwargs
    )
    return sensor.execute(env.context())


def with_connection(
    run: Callable[..., Any], host: str | None = None, password: str | None = "", **extra: Any
) -> Callable[[Env], Any]:
    """Run ``run`` with a connection ``bad_conn`` built from these fields."""

    def provoke(env: Env) -> Any:
        return run(env, craft_conn_id=env.connect("bad_conn", host, password, **extra))

    return provoke


def file_input(make: Callable[[Path], Any]) -> Callable[[Env], Any]:
    """Run ``all-types`` with its ``document`` file input from ``make(tmp_path)``."""
    return lambda env: run_pipeline(env, inputs={"text": "hello", "document": make(env.tmp)})


def broken_symlink(tmp: Path) -> str:
    link = tmp / "report-link.txt"
    link.symlink_to(tmp / "moved-away.txt")
    return str(link)


def name_too_long(tmp: Path) -> str:
    return str(tmp / ("n" * 300) / "report.txt")


def unwritable_storage(env: Env) -> Any:
    """The execution succeeds but its file output cannot be stored: nothing is lost, the
    outputs stay on the platform for a retry with a writable location."""
    from craft_airflow.hooks.craft import CraftAIHook
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    blocker = env.tmp / "a-file-not-a-folder"
    blocker.write_text("in the way")
    op = CraftRunPipelineOperator(
        task_id="task",
        pipeline_name="all-types",
        inputs={"text": "hello"},
        output_storage=str(blocker / "outputs"),
        deferrable=False,
    )
    context = env.context()
    try:
        op.execute(context)
    finally:
        execution_id = context["ti"].xcoms["execution_id"]
        hook = CraftAIHook()
        outputs = {o["pipeline_output_name"]: o for o in hook.get_outputs(execution_id)}
        assert outputs["text"]["value"] == "HELLO"
        hook.close()


def stubbed(
    method: str, path: str, status: int, body: Any, content_type: str, run: Callable[..., Any]
) -> Callable[[Env], Any]:
    """Point the environment URL at the stub, which answers ``path`` so (tokens still come from
    the platform)."""

    def provoke(env: Env) -> Any:
        env.stub.on(method, path, status, body, content_type)
        return run(env, craft_conn_id=env.connect("stubbed", env.stub.url))

    return provoke


PROXY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    b"</center><hr><center>nginx/1.25.3</center></body></html>"
)


def skipped_execution(env: Env) -> Any:
    env.stub.on(
        "GET",
        "/api/v1/executions/all-types-skip01",
        200,
        {"execution_id": "all-types-skip01", "status": "Skipped"},
        "application/json",
    )
    env.stub.on("POST", "/api/v1/executions/all-types-skip01/logs", 200, [[]], "application/json")
    return sense(env, "all-types-skip01", craft_conn_id=env.connect("stubbed", env.stub.url))


def errored_execution(env: Env) -> Any:
    """A second platform dies under a running execution; on restart it marks it ``Error``."""
    from craft_airflow.hooks.craft import CraftAIHook
    from craft_local.server import EmbeddedPlatform

    with EmbeddedPlatform(
        data_dir=env.tmp / "dying-platform",
        sdk_token=env.platform.sdk_token,
        pipelines_dir=EXAMPLE_PIPELINES,
    ) as dying:
        conn_id = env.connect("dying", dying.url, control_url=dying.url)
        hook = CraftAIHook(conn_id)
        execution_id = hook.run_pipeline("slow", inputs={"seconds": 60})
        hook.close()
        dying.kill()
        dying.restart()
        return sense(env, execution_id, craft_conn_id=conn_id)


def wrong_endpoint_token(env: Env) -> Any:
    conn_id = env.connect(
        "endpoint_only", password=None, endpoint_tokens={"all-types-endpoint": WRONG_ENDPOINT_TOKEN}
    )
    return trigger_endpoint(env, craft_conn_id=conn_id, inputs={"text": "hello"})


def endpoint_only(run: Callable[..., Any], **kwargs: Any) -> Callable[[Env], Any]:
    def provoke(env: Env) -> Any:
        conn_id = env.connect("endpoint_only", password=None, endpoint_tokens=ENDPOINT_TOKENS)
        return run(env, craft_conn_id=conn_id, **kwargs)

    return provoke


def construct(build: Callable[[], Any]) -> Callable[[Env], Any]:
    """The mistake shows when the DAG file is parsed: the operator's constructor."""
    return lambda env: build()


def pipeline_operator(**kwargs: Any) -> Callable[[], Any]:
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    return lambda: CraftRunPipelineOperator(task_id="task", pipeline_name="all-types", **kwargs)


def endpoint_operator(**kwargs: Any) -> Callable[[], Any]:
    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator

    return lambda: CraftTriggerEndpointOperator(
        task_id="task", endpoint_name="all-types-endpoint", **kwargs
    )


def sensor(**kwargs: Any) -> Callable[[], Any]:
    from craft_airflow.sensors.execution import CraftExecutionSensor

    return lambda: CraftExecutionSensor(task_id="task", **kwargs)


def unreachable(env: Env) -> Any:
    url = f"http://127.0.0.1:{closed_port()}"
    return run_pipeline(env, craft_conn_id=env.connect("closed", url, control_url=url))


# -- rows through dag.test() --------------------------------------------------------------------
# These rows share one DAG run: one task per row, each failing on its own; the exception each
# failed with is read by the task's failure callback.


def rendered_inputs(task_id: str) -> None:
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    CraftRunPipelineOperator(
        task_id=task_id, pipeline_name="all-types", inputs="{{ run_id }}", deferrable=False
    )


def inputs_from_list_xcom(task_id: str) -> None:
    from airflow.sdk import task

    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    @task(task_id=f"{task_id}_upstream")
    def produce() -> list[str]:
        return ["hello", "world"]

    CraftRunPipelineOperator(
        task_id=task_id, pipeline_name="all-types", inputs=produce(), deferrable=False
    )


def rendered_mapping(task_id: str) -> None:
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    CraftRunPipelineOperator(
        task_id=task_id,
        pipeline_name="all-types",
        inputs={"text": "hello"},
        inputs_mapping="{{ run_id }}",
        deferrable=False,
    )


def rendered_empty_execution_id(task_id: str) -> None:
    from craft_airflow.sensors.execution import CraftExecutionSensor

    CraftExecutionSensor(
        task_id=task_id, execution_id="{{ '' }}", poke_interval=0.2, timeout=5, deferrable=False
    )


def rendered_empty_files(task_id: str) -> None:
    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator

    CraftTriggerEndpointOperator(
        task_id=task_id,
        endpoint_name="word-count-endpoint",
        files="{{ run_id }}",
        deferrable=False,
    )


IN_DAG = {
    "rendered_inputs": rendered_inputs,
    "inputs_from_list_xcom": inputs_from_list_xcom,
    "rendered_mapping": rendered_mapping,
    "rendered_empty_execution_id": rendered_empty_execution_id,
    "rendered_files": rendered_empty_files,
}


@pytest.fixture(scope="module")
def dag_failures(
    craft_platform: Any, airflow_db: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, BaseException]:
    """Run one DAG holding every :data:`IN_DAG` row with ``dag.test()``; the exception each
    row's task failed with, by task id."""
    import pluggy
    from airflow.sdk import DAG
    from airflow_compat import load_dag_bag, sync_dags_to_db, task_listener_manager

    failures: dict[str, BaseException] = {}

    class Recorder:
        """A task listener: the exception every failed task ended with (Airflow 3.1's
        ``on_failure_callback`` context has no ``exception`` under ``dag.test()``)."""

        @pluggy.HookimplMarker("airflow")
        def on_task_instance_failed(
            self, previous_state: Any, task_instance: Any, error: BaseException | str | None
        ) -> None:
            assert isinstance(error, BaseException), error
            failures[task_instance.task_id] = error

    listeners = task_listener_manager()
    recorder = Recorder()
    listeners.add_listener(recorder)

    folder = tmp_path_factory.mktemp("bad-input-dag")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_HOME", str(folder))
        patch.setenv(
            "AIRFLOW_CONN_CRAFT_AI_DEFAULT",
            json.dumps(
                {
                    "conn_type": "craftai",
                    "host": craft_platform.url,
                    "password": craft_platform.sdk_token,
                    "extra": {"control_url": craft_platform.url, **FAST},
                }
            ),
        )
        with DAG(
            "craft_bad_input",
            schedule=None,
            default_args={"retries": 0},
        ) as dag:
            for task_id, build in IN_DAG.items():
                build(task_id)
        # dag.test() runs a DAG known to the metadata DB only: register it first.
        bag = load_dag_bag(folder)
        bag.bag_dag(dag)
        sync_dags_to_db(bag)
        try:
            run = dag.test(logical_date=None)
        finally:
            listeners.pm.unregister(recorder)
    assert str(run.state) == "failed", run.state
    return failures


def in_dag_test(task_id: str) -> Callable[[Env], Any]:
    """Raise what the row's task failed with in the shared ``dag.test()`` run."""

    def provoke(env: Env) -> Any:
        failures = env.request.getfixturevalue("dag_failures")
        assert task_id in failures, f"task {task_id} did not fail"
        raise failures[task_id]

    return provoke


# -- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    provoke: Callable[[Env], Any]
    error: type[BaseException]
    shows: tuple[str, ...]
    #: The row starts an execution; the others are refused before ``all-types`` runs.
    runs: bool = False


CASES = [
    # pipelines and inputs (checked against the pipeline's declaration before anything runs)
    Case(
        "unknown_pipeline",
        lambda env: run_pipeline(env, pipeline_name="no-such-pipeline"),
        CraftAPIError,
        ("[PipelineNotFound]", "get pipeline 'no-such-pipeline'", "does not exist"),
    ),
    Case(
        "unknown_input",
        run_all_types(colour="blue"),
        CraftInputError,
        ("the pipeline has no input 'colour'", "declared: document, flag, items, number"),
    ),
    Case(
        "missing_required_input",
        lambda env: run_pipeline(env, inputs={"number": 2}),
        CraftInputError,
        ("required input(s) missing: 'text' (string)", "inputs_mapping"),
    ),
    Case(
        "wrong_type_string",
        lambda env: run_pipeline(env, inputs={"text": 42}),
        CraftInputError,
        ("input 'text'", "declared 'string'", "got int: 42"),
    ),
    Case(
        "wrong_type_number",
        run_all_types(number="three"),
        CraftInputError,
        ("input 'number'", "declared 'number'", "got str: 'three'"),
    ),
    Case(
        "wrong_type_boolean",
        run_all_types(flag="yes"),
        CraftInputError,
        ("input 'flag'", "declared 'boolean'", "got str: 'yes'"),
    ),
    Case(
        "wrong_type_json_not_serialisable",
        run_all_types(payload={"when": object()}),
        CraftInputError,
        ("input 'payload' (json)", "not JSON-serialisable", "expected a JSON value"),
    ),
    Case(
        "wrong_type_array",
        run_all_types(items="a,b,c"),
        CraftInputError,
        ("input 'items'", "declared 'array'", "got str: 'a,b,c'"),
    ),
    Case(
        "wrong_type_file",
        run_all_types(document=12345),
        CraftInputError,
        ("file input 'document'", "expected a path, a storage URI", "got int"),
    ),
    Case(
        "non_file_value_over_size_limit",
        run_all_types(payload={"blob": "x" * 70_000}),
        CraftAPIError,
        ("[InputsTooLarge]", "input 'payload'", "the limit is 60000 bytes", "as file inputs"),
    ),
    Case(
        "missing_file",
        file_input(lambda tmp: str(tmp / "report.txt")),
        CraftInputError,
        ("file input 'document'", "no such file", "report.txt"),
    ),
    Case(
        "unreadable_file_broken_symlink",
        file_input(broken_symlink),
        CraftInputError,
        ("file input 'document'", "broken symbolic link", "moved-away.txt", "expected a file"),
    ),
    Case(
        "unreadable_file_name_too_long",
        file_input(name_too_long),
        CraftInputError,
        ("file input 'document'", "cannot read", "File name too long", "expected a readable"),
    ),
    Case(
        "directory_as_file",
        file_input(lambda tmp: tmp),
        CraftInputError,
        ("file input 'document'", "is a directory; expected a file"),
    ),
    Case(
        "file_uri_to_a_directory",
        file_input(lambda tmp: f"file://{tmp}"),
        CraftInputError,
        ("file input 'document'", "is a directory; expected a file"),
    ),
    # endpoints
    Case(
        "unknown_endpoint_sdk_token",
        lambda env: trigger_endpoint(env, endpoint_name="no-such-endpoint"),
        CraftAPIError,
        ("[DeploymentNotFound]", "get deployment 'no-such-endpoint'", "does not exist"),
    ),
    Case(
        "unknown_endpoint_endpoint_token",
        lambda env: trigger_endpoint(
            env,
            endpoint_name="no-such-endpoint",
            craft_conn_id=env.connect(
                "default_token", password=None, endpoint_token=ENDPOINT_TOKENS["all-types-endpoint"]
            ),
        ),
        CraftAuthError,
        ("[Unauthorized]", "trigger endpoint 'no-such-endpoint'", "Unknown endpoint or invalid"),
    ),
    Case(
        "endpoint_without_any_token",
        endpoint_only(trigger_endpoint, endpoint_name="no-such-endpoint"),
        CraftConfigError,
        (
            "no endpoint token for 'no-such-endpoint'",
            "'endpoint_tokens' has: all-types-endpoint, word-count-endpoint",
            "no SDK token (password field)",
        ),
    ),
    Case(
        "wrong_endpoint_token",
        wrong_endpoint_token,
        CraftAuthError,
        ("[Unauthorized]", "trigger endpoint 'all-types-endpoint'", "invalid endpoint token"),
    ),
    Case(
        "endpoint_input_wrong_type",
        lambda env: trigger_endpoint(env, inputs={"text": "hello", "number": "three"}),
        CraftAPIError,
        (
            "[InvalidInput] trigger deployment 'all-types-endpoint' failed:",
            "Invalid value for endpoint input 'number': expected a number (number), got a string.",
        ),
    ),
    Case(
        "endpoint_input_missing",
        lambda env: trigger_endpoint(env, inputs={"number": 3}),
        CraftAPIError,
        (
            "[MissingInput] trigger deployment 'all-types-endpoint' failed:",
            "Endpoint input 'text' is required: expected a string (string).",
        ),
    ),
    Case(
        "endpoint_input_unknown",
        lambda env: trigger_endpoint(env, inputs={"text": "hello", "colour": "red"}),
        CraftAPIError,
        (
            "[UnknownInput] trigger deployment 'all-types-endpoint' failed:",
            "Unknown endpoint input 'colour'; this endpoint accepts: document, flag,",
        ),
    ),
    Case(
        "endpoint_input_missing_endpoint_token",
        endpoint_only(trigger_endpoint, inputs={"number": 3}),
        CraftAPIError,
        ("trigger endpoint 'all-types-endpoint' failed:", "Endpoint input 'text' is required"),
    ),
    Case(
        "endpoint_input_not_serialisable",
        lambda env: trigger_endpoint(env, inputs={"text": "hello", "payload": {1, 2}}),
        CraftInputError,
        ("endpoint input 'payload'", "not JSON-serialisable", "expected a JSON value"),
    ),
    Case(
        "missing_sdk_token",
        endpoint_only(run_pipeline, inputs={"text": "hello"}),
        CraftAuthError,
        ("Connection 'endpoint_only' has no SDK token", "password field", "needs one"),
    ),
    # the connection
    Case(
        "environment_url_ftp",
        with_connection(run_pipeline, "ftp://env.example.com"),
        CraftConfigError,
        ("Connection 'bad_conn'", "field 'host'", "absolute http:// or https:// URL"),
    ),
    Case(
        "environment_url_empty_host",
        with_connection(run_pipeline, "https://"),
        CraftConfigError,
        ("Connection 'bad_conn'", "field 'host'", "absolute http:// or https:// URL"),
    ),
    Case(
        "environment_url_empty",
        with_connection(run_pipeline, ""),
        CraftConfigError,
        ("Connection 'bad_conn'", "field 'host'", "is empty; expected the environment URL"),
    ),
    Case(
        "environment_url_no_scheme_bad_port",
        with_connection(run_pipeline, "env.example.com:port"),
        CraftConfigError,
        ("Connection 'bad_conn'", "field 'host'", "has no scheme", "http:// or https:// URL"),
    ),
    Case(
        "environment_url_bad_port",
        with_connection(run_pipeline, "https://env.example.com:port"),
        CraftConfigError,
        ("Connection 'bad_conn'", "field 'host'", "is not a valid URL", "'port'"),
    ),
    Case(
        "environment_url_empty_port",
        with_connection(run_pipeline, "http://127.0.0.1:"),
        CraftConfigError,
        ("Connection 'bad_conn'", "field 'host'", "has an empty port", "from 1 to 65535"),
    ),
    Case(
        "environment_url_no_scheme_with_space",
        with_connection(run_pipeline, "my env.example.com"),
        CraftConfigError,
        ("Connection 'bad_conn'", "field 'host'", "must not contain spaces", "expected a URL"),
    ),
    Case(
        "extra_endpoint_tokens_not_json",
        with_connection(
            run_pipeline, endpoint_tokens='{"all-types-endpoint": ' + WRONG_ENDPOINT_TOKEN
        ),
        CraftConfigError,
        ("field 'endpoint_tokens'", "is not valid JSON", "expected a JSON object"),
    ),
    Case(
        "extra_endpoints_do_not_match_endpoint_tokens",
        with_connection(
            run_pipeline,
            endpoint_tokens={"all-types-endpoint": WRONG_ENDPOINT_TOKEN},
            endpoints="all-types-endpoint, word-count-endpoint",
        ),
        CraftConfigError,
        (
            "field 'endpoints'",
            "must list the deployments of 'endpoint_tokens'",
            "['word-count-endpoint'] have no token",
        ),
    ),
    Case(
        "extra_connect_retry_seconds_negative",
        with_connection(run_pipeline, connect_retry_seconds=-5),
        CraftConfigError,
        ("field 'connect_retry_seconds'", "must not be negative"),
    ),
    Case(
        "extra_request_timeout_not_number",
        with_connection(run_pipeline, request_timeout="fast"),
        CraftConfigError,
        ("field 'request_timeout'", "must be a number", "got 'fast'"),
    ),
    Case(
        "extra_verify_tls_not_boolean",
        with_connection(run_pipeline, verify_tls="maybe"),
        CraftConfigError,
        ("field 'verify_tls'", "must be true or false", "got 'maybe'"),
    ),
    Case(
        "unknown_connection_id",
        lambda env: run_pipeline(env, craft_conn_id="no_such_connection"),
        CraftConfigError,
        ("Connection 'no_such_connection'", "craft_conn_id", "not defined", "'craftai'"),
    ),
    Case(
        "unreachable_platform",
        unreachable,
        CraftConnectionError,
        ("[unreachable]", "could not reach http://127.0.0.1:", "unreachable after 2 attempts"),
    ),
    # what the platform (or a proxy in front of it) answers
    Case(
        "non_json_500",
        stubbed(
            "GET",
            "/api/v1/pipelines/all-types",
            500,
            b"Internal Server Error",
            "text/plain",
            run_pipeline,
        ),
        CraftAPIError,
        ("[500]", "get pipeline 'all-types'", "non-JSON body (text/plain): Internal Server Error"),
    ),
    Case(
        "html_page_from_a_proxy",
        stubbed("GET", "/api/v1/pipelines/all-types", 502, PROXY_PAGE, "text/html", run_pipeline),
        CraftAPIError,
        ("[502]", "get pipeline 'all-types'", "(text/html): 502 Bad Gateway", "try again later"),
    ),
    # how executions end
    Case(
        "execution_failed",
        lambda env: run_pipeline(
            env, pipeline_name="failing", inputs={"message": "bad-input table says no"}
        ),
        CraftExecutionFailed,
        ("ended with status Failed", "ValueError: bad-input table says no", "Last log lines"),
    ),
    Case(
        "execution_error",
        errored_execution,
        CraftExecutionFailed,
        ("ended with status Error", "platform restarted"),
    ),
    Case(
        "execution_skipped",
        skipped_execution,
        AirflowSkipException,
        ("Execution all-types-skip01", "skipped by the platform"),
    ),
    # mappings
    Case(
        "mapping_without_pipeline_input_name",
        lambda env: run_pipeline(
            env, inputs={"text": "hi"}, inputs_mapping=[{"constant_value": 3}]
        ),
        CraftInputError,
        ("inputs_mapping[0]", "'pipeline_input_name' is required", "non-empty string"),
    ),
    Case(
        "mapping_unknown_key",
        lambda env: run_pipeline(
            env,
            inputs={"text": "hi"},
            inputs_mapping=[{"pipeline_input_name": "number", "constant": 3}],
        ),
        CraftInputError,
        ("inputs_mapping[0]", "unknown field(s) 'constant'", "allowed: constant_value"),
    ),
    Case(
        "mapping_two_sources",
        lambda env: run_pipeline(
            env,
            inputs={"text": "hi"},
            inputs_mapping=[
                InputSource("number", constant_value=3, environment_variable_name="NUMBER")
            ],
        ),
        CraftInputError,
        (
            "inputs_mapping[0] ('number')",
            "set exactly one of",
            "got constant_value, environment_variable_name",
        ),
    ),
    Case(
        "mapping_constant_on_file_input",
        lambda env: run_pipeline(
            env,
            inputs={"text": "hi"},
            inputs_mapping=[InputSource("document", constant_value="file contents")],
        ),
        CraftInputError,
        (
            "inputs_mapping[0] ('document')",
            "a constant cannot fill the file input",
            "datastore_path",
        ),
    ),
    Case(
        "mapping_unknown_input",
        lambda env: run_pipeline(
            env, inputs={"text": "hi"}, inputs_mapping=[InputSource("colour", is_null=True)]
        ),
        CraftInputError,
        ("inputs_mapping[0] ('colour')", "the pipeline has no input 'colour'", "declared:"),
    ),
    Case(
        "output_destination_without_destination",
        lambda env: run_pipeline(
            env, inputs={"text": "hi"}, outputs_mapping=[OutputDestination("text")]
        ),
        CraftInputError,
        ("outputs_mapping[0] ('text')", "set exactly one of", "got none"),
    ),
    # templates and XComs (through dag.test())
    Case(
        "template_renders_a_string_for_inputs",
        in_dag_test("rendered_inputs"),
        CraftInputError,
        ("inputs: expected a dict of input name -> value", "got str: 'manual__"),
    ),
    Case(
        "xcom_resolves_to_a_list_for_inputs",
        in_dag_test("inputs_from_list_xcom"),
        CraftInputError,
        ("inputs: expected a dict of input name -> value", "got list: ['hello', 'world']"),
    ),
    Case(
        "template_renders_a_string_for_inputs_mapping",
        in_dag_test("rendered_mapping"),
        CraftInputError,
        ("inputs_mapping: expected a list of InputSource or dicts", "got str: 'manual__"),
    ),
    Case(
        "template_renders_a_string_for_files",
        in_dag_test("rendered_files"),
        CraftInputError,
        ("files: expected a dict of endpoint input name -> file", "got str: 'manual__"),
    ),
    Case(
        "template_renders_an_empty_execution_id",
        in_dag_test("rendered_empty_execution_id"),
        ValueError,
        ("execution_id is '' once rendered", "expected a non-empty execution id"),
    ),
    # operator and sensor arguments (the DAG file fails to parse)
    Case(
        "timeout_negative",
        construct(pipeline_operator(timeout=-5)),
        ValueError,
        ("timeout", "number of seconds >= 0", "got -5"),
    ),
    Case(
        "poll_interval_zero",
        construct(endpoint_operator(poll_interval=0)),
        ValueError,
        ("poll_interval", "must be > 0", "got 0"),
    ),
    Case(
        "sensor_empty_execution_id",
        construct(sensor(execution_id="")),
        ValueError,
        ("execution_id", "must be a non-empty string"),
    ),
    Case(
        "sensor_unknown_execution_id",
        lambda env: sense(env, "all-types-nosuch"),
        CraftAPIError,
        ("[ExecutionNotFound]", "get execution 'all-types-nosuch'", "does not exist"),
    ),
    # the data store as storage (craft:// paths)
    Case(
        "craft_datastore_path_of_another_connection",
        lambda env: run_pipeline(
            env,
            inputs={"text": "hello"},
            inputs_mapping=[
                InputSource(
                    pipeline_input_name="document",
                    datastore_path="craft://craft_other_env@/in/doc.txt",
                )
            ],
        ),
        CraftInputError,
        (
            "inputs_mapping[0].datastore_path",
            "connection 'craft_other_env'",
            "expected a craft://craft_ai_default@/",
        ),
    ),
    Case(
        "craft_folder_as_file_input",
        craft_folder_as_file_input,
        CraftInputError,
        ("file input 'document'", "bad-input/folder", "is a directory; expected a file"),
    ),
    Case(
        "craft_path_of_unknown_connection",
        run_all_types(document="craft://craft_nosuch@/x.txt"),
        CraftInputError,
        ("file input 'document'", "Connection 'craft_nosuch'", "is not defined", "craftai"),
    ),
    Case(
        "craft_path_without_sdk_token",
        craft_path_without_sdk_token,
        CraftInputError,
        ("file input 'document'", "'craft_no_sdk' has no SDK token", "data store"),
    ),
    # deployments (CraftDeploymentOperator): the platform names the field, or the operator does
    Case(
        "deployment_invalid_cron",
        lambda env: deploy(env, schedule="61 * * * *"),
        CraftAPIError,
        ("[InvalidSchedule]", "schedule '61 * * * *' is not a valid CRON expression"),
    ),
    Case(
        "deployment_unmapped_input_on_periodic",
        lambda env: deploy(env, inputs_mapping=[]),
        CraftAPIError,
        ("inputs_mapping: input 'seconds'",),
    ),
    Case(
        "deployment_unknown_pipeline",
        lambda env: deploy(env, pipeline_name="no-such-pipeline"),
        CraftAPIError,
        ("pipeline_name: no pipeline 'no-such-pipeline'",),
    ),
    Case(
        "deployment_name_used_by_another_pipeline",
        lambda env: deploy(env, deployment_name="all-types-endpoint"),
        CraftInputError,
        ("deployment_name: 'all-types-endpoint' already deploys pipeline 'all-types', not 'slow'",),
    ),
    # where outputs go
    Case(
        "output_storage_not_writable",
        unwritable_storage,
        CraftError,
        ("Cannot store file output 'report'", "a-file-not-a-folder", "writable", "output_storage"),
        runs=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_a_clear_message(case: Case, env: Env) -> None:
    from craft_airflow.hooks.craft import CraftAIHook

    hook = CraftAIHook()
    before = len(hook.list_pipeline_executions("all-types"))
    with pytest.raises(case.error) as raised:
        case.provoke(env)
    if not case.runs:
        assert len(hook.list_pipeline_executions("all-types")) == before, "an execution started"
    hook.close()
    message = str(raised.value)
    missing = [fragment for fragment in case.shows if fragment not in message]
    assert not missing, f"{case.id}: {missing} not in: {message}"
    if isinstance(raised.value, CraftAPIError):  # the platform's details as words, not JSON
        assert '{"' not in message, f"{case.id}: raw JSON in: {message}"
    leaked = [secret for secret in env.secrets if secret in message]
    assert not leaked, f"{case.id}: secret in: {message}"


def test_the_table_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)
