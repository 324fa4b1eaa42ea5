"""Creating an execution from a request (a pipeline run, a deployment trigger) and queueing it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from craft_local.bodies import decode_form_values, is_form, read_body, save_uploads
from craft_local.errors import PlatformError
from craft_local.executions import new_execution_id
from craft_local.jsontext import check_storable
from craft_local.mappings import InputContext, deployment_outputs, resolve_endpoint_inputs
from craft_local.state import Platform

Items = list[dict[str, Any]]
#: Turns a request into an execution's (inputs, outputs); file inputs already saved.
Resolve = Callable[[InputContext, dict[str, str]], tuple[Items, Items]]


async def start_execution(
    platform: Platform,
    pipeline_name: str,
    deployment_name: str | None,
    uploads: dict[str, UploadFile],
    resolve: Resolve,
    timeout_s: float | None,
) -> str:
    """Create an execution (files saved, inputs resolved) and queue it; return its id.

    :param resolve: called in a thread (data-store inputs are copied into the execution folder).
    :param timeout_s: the execution's time limit, if any.
    """
    store = platform.store
    execution_id = new_execution_id(pipeline_name)
    while store.execution_exists(execution_id):
        execution_id = new_execution_id(pipeline_name)
    exec_dir = store.execution_dir(execution_id)
    try:
        files = await save_uploads(uploads, exec_dir)
        ctx = InputContext(exec_dir, store.env_vars(), store.datastore_dir)
        inputs, outputs = await run_in_threadpool(resolve, ctx, files)
        for item in inputs:
            # Refused now, by name: stored, it would make the execution unreadable.
            check_storable("input", item["pipeline_input_name"], item)
    except BaseException:
        shutil.rmtree(exec_dir, ignore_errors=True)
        raise
    store.create_execution(
        {
            "execution_id": execution_id,
            "pipeline_name": pipeline_name,
            "deployment_name": deployment_name,
            "inputs": inputs,
            "outputs": outputs,
            "timeout_s": timeout_s,
        }
    )
    platform.runner.submit(execution_id)
    return execution_id


async def trigger_deployment(
    platform: Platform, deployment: dict[str, Any], request: Request
) -> str:
    """Start an execution of ``deployment`` from an endpoint-style body (§7.1); return its id.

    A disabled deployment starts nothing (409 ``DeploymentDisabled``, §5.9); a periodic one runs
    on its schedule only (400).
    """
    if not deployment.get("is_enabled", True):
        raise PlatformError(
            409, "DeploymentDisabled", f"Deployment '{deployment['name']}' is disabled."
        )
    if deployment.get("execution_rule") == "periodic":
        raise PlatformError(
            400,
            "InvalidRequest",
            f"Deployment '{deployment['name']}' is periodic: it runs on its schedule only.",
        )
    record = platform.store.get_pipeline(deployment["pipeline"]["name"])
    if record is None:
        raise PlatformError(409, "PipelineNotFound", "The deployment's pipeline was deleted.")
    form = is_form(request)
    fields, uploads = await read_body(request)
    if form:
        fields = decode_form_values(fields)
    parameters = record["parameters"]

    def resolve(ctx: InputContext, files: dict[str, str]) -> tuple[Items, Items]:
        inputs = resolve_endpoint_inputs(deployment, parameters, fields, files, ctx)
        return inputs, deployment_outputs(deployment, parameters)

    return await start_execution(
        platform,
        parameters["pipeline_name"],
        deployment["name"],
        uploads,
        resolve,
        deployment.get("execution_timeout_s"),
    )
