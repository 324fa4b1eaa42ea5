"""The Craft AI platform contract as plain functions and dataclasses, without I/O.

* :mod:`.http` — request descriptions (:class:`HttpRequest`) and transport results;
* :mod:`.builders` — one builder per platform call (URLs, body encodings);
* :mod:`.readers` — answer decoding and error parsing;
* :mod:`.decisions` — the one table deciding done / not yet / retry / refresh / fail;
* :mod:`.calls` — one call with retries and token refresh, as a generator of steps;
* :mod:`.waiting` — waiting for an execution (long-poll, endpoint results);
* :mod:`.adoption` — creating an execution without ever creating two.

Transports (``hooks/craft.py`` with requests, ``hooks/craft_async.py`` with httpx) only perform
the :class:`Send` and :class:`Sleep` steps these generators yield.
"""

from craft_airflow.protocol.adoption import (
    CreationIntent,
    create_execution,
    inputs_match,
    recent_candidates,
)
from craft_airflow.protocol.builders import (
    build_download_endpoint_file,
    build_download_output,
    build_endpoint_results,
    build_environment_info,
    build_get_deployment,
    build_get_execution,
    build_get_logs,
    build_get_pipeline,
    build_list_pipeline_executions,
    build_refresh,
    build_run_pipeline,
    build_trigger_deployment,
    build_trigger_endpoint,
    build_users_me,
    build_wait_outputs,
)
from craft_airflow.protocol.calls import CallContext, call_json, ensure_token, perform
from craft_airflow.protocol.decisions import Action, Decision, classify, is_not_yet
from craft_airflow.protocol.http import (
    AuthKind,
    FailureKind,
    FileInput,
    FilePart,
    HttpRequest,
    Response,
    Send,
    Sleep,
    TimeoutKind,
    TransportFailure,
)
from craft_airflow.protocol.readers import (
    EndpointOutput,
    decode_body,
    parse_error,
    read_endpoint_results,
    read_execution_id,
    read_logs,
    read_outputs,
    unwrap_endpoint_output,
)
from craft_airflow.protocol.waiting import (
    wait_for_endpoint_results,
    wait_for_execution,
    wait_steps,
)

__all__ = [
    "Action",
    "AuthKind",
    "CallContext",
    "CreationIntent",
    "Decision",
    "EndpointOutput",
    "FailureKind",
    "FileInput",
    "FilePart",
    "HttpRequest",
    "Response",
    "Send",
    "Sleep",
    "TimeoutKind",
    "TransportFailure",
    "build_download_endpoint_file",
    "build_download_output",
    "build_endpoint_results",
    "build_environment_info",
    "build_get_deployment",
    "build_get_execution",
    "build_get_logs",
    "build_get_pipeline",
    "build_list_pipeline_executions",
    "build_refresh",
    "build_run_pipeline",
    "build_trigger_deployment",
    "build_trigger_endpoint",
    "build_users_me",
    "build_wait_outputs",
    "call_json",
    "classify",
    "create_execution",
    "decode_body",
    "ensure_token",
    "inputs_match",
    "is_not_yet",
    "parse_error",
    "perform",
    "read_endpoint_results",
    "read_execution_id",
    "read_logs",
    "read_outputs",
    "recent_candidates",
    "unwrap_endpoint_output",
    "wait_for_endpoint_results",
    "wait_for_execution",
    "wait_steps",
]
