"""Pipelines: creation from uploaded code, listing, deletion, and runs."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from craft_local.bodies import (
    JSON,
    MULTIPART,
    documented_body,
    is_json_type,
    json_field,
    media_type,
    read_body,
)
from craft_local.datadir import STAGING_PREFIX
from craft_local.errors import bad_request, conflict
from craft_local.executions import list_item as execution_list_item
from craft_local.launch import Items, start_execution
from craft_local.lookups import pipeline_or_404
from craft_local.mappings import InputContext, resolve_run_inputs, run_outputs
from craft_local.pipelines import build_parameters, pipeline_view, unflatten
from craft_local.routers.auth import require_bearer
from craft_local.state import PlatformDep
from craft_local.tarball import UnsafeArchive, safe_extract

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_bearer)])


@router.post(
    "/pipelines",
    openapi_extra=documented_body(
        {
            "pipeline_name": {"type": "string"},
            "function_path": {"type": "string"},
            "function_name": {"type": "string"},
            "inputs": {"type": "array"},
            "outputs": {"type": "array"},
        },
        JSON,
        MULTIPART,
    ),
)
async def create_pipeline(request: Request, platform: PlatformDep) -> dict[str, Any]:
    fields, files = await read_body(request)
    raw = fields if is_json_type(media_type(request)) else unflatten(fields.items())
    if raw.get("pipeline_template_name"):
        raise bad_request(
            "Pipeline templates are not available on the embedded platform.",
            name="NotSupported",
        )
    parameters = build_parameters(raw)
    name = parameters["pipeline_name"]
    if platform.store.get_pipeline(name) is not None:
        raise conflict(f"Pipeline '{name}' already exists.", name="PipelineAlreadyExists")
    step_file = files.get("step_file")
    if step_file is None:
        raise bad_request(
            "Send the pipeline code as a 'step_file' tar.gz part (SDK: container_config"
            " local_folder); the embedded platform can not fetch repositories.",
            name="MissingCode",
        )
    code_dir = platform.store.pipeline_code_dir(name)

    def install() -> None:
        """Extract into a staging folder, then move it in place (in a thread)."""
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=platform.config.data_dir))
        try:
            safe_extract(step_file.file, staging, platform.config.max_code_bytes)
            if not (staging / parameters["function_path"]).is_file():
                raise bad_request(
                    f"function_path '{parameters['function_path']}' is not in the uploaded code.",
                    name="InvalidCode",
                )
            shutil.rmtree(code_dir, ignore_errors=True)
            code_dir.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(code_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    try:
        await run_in_threadpool(install)
    except UnsafeArchive as exc:
        raise bad_request(f"Refused code archive: {exc}.", name="InvalidCode") from None
    platform.store.put_pipeline(parameters, code_dir, origin="local")
    record = platform.store.get_pipeline(name)
    assert record is not None
    return pipeline_view(record)


@router.get("/pipelines")
async def list_pipelines(platform: PlatformDep) -> list[dict[str, Any]]:
    return [
        {
            "pipeline_name": p["parameters"]["pipeline_name"],
            "created_at": p["created_at"],
            "status": "ready",
        }
        for p in platform.store.list_pipelines()
    ]


@router.get("/pipelines/{name}")
async def get_pipeline(name: str, platform: PlatformDep) -> dict[str, Any]:
    # Creation is synchronous, so ?wait_for_completion=true answers at once.
    return pipeline_view(pipeline_or_404(platform.store, name))


@router.delete("/pipelines/{name}")
async def delete_pipeline(
    name: str, platform: PlatformDep, force_deployments_deletion: str = "false"
) -> dict[str, Any]:
    store = platform.store
    pipeline_or_404(store, name)
    deployments = store.list_deployments(name)
    if deployments and force_deployments_deletion.lower() != "true":
        raise conflict(
            f"Pipeline '{name}' has deployments ({', '.join(d['name'] for d in deployments)});"
            " delete them first or pass force_deployments_deletion=true.",
            name="PipelineHasDeployments",
        )
    for deployment in deployments:
        store.delete_deployment(deployment["name"])
    await run_in_threadpool(store.delete_pipeline, name)
    return {
        "pipeline": {"name": name},
        "deployments": [
            {"name": d["name"], "execution_rule": d["execution_rule"]} for d in deployments
        ],
    }


@router.post("/pipelines/{name}/logs")
async def pipeline_logs(name: str, platform: PlatformDep) -> list[Any]:
    pipeline_or_404(platform.store, name)
    return []  # nothing is built, so there are no build logs


@router.get("/pipelines/{name}/executions")
async def list_executions(name: str, platform: PlatformDep) -> list[dict[str, Any]]:
    pipeline_or_404(platform.store, name)
    return [execution_list_item(e) for e in platform.store.list_executions(name)]


@router.get("/pipelines/{name}/executions/latest")
async def latest_execution(name: str, platform: PlatformDep) -> Any:
    pipeline_or_404(platform.store, name)
    latest = platform.store.latest_execution(pipeline_name=name)
    return Response(status_code=204) if latest is None else {"execution_id": latest}


@router.post(
    "/pipelines/{name}/run",
    openapi_extra=documented_body(
        {
            "json_inputs": {"type": "object"},
            "inputs_mapping": {"type": "array"},
            "outputs_mapping": {"type": "array"},
        },
        JSON,
        MULTIPART,
    ),
)
async def run_pipeline(name: str, request: Request, platform: PlatformDep) -> dict[str, str]:
    record = pipeline_or_404(platform.store, name)
    fields, uploads = await read_body(request)
    json_inputs = json_field(fields, "json_inputs", dict, {})
    inputs_mapping = json_field(fields, "inputs_mapping", list, None)
    outputs_mapping = json_field(fields, "outputs_mapping", list, None)
    unknown_fields = set(fields) - {"json_inputs", "inputs_mapping", "outputs_mapping"}
    if unknown_fields:
        raise bad_request(
            f"Unknown field(s) {', '.join(sorted(unknown_fields))}: non-file inputs go in"
            " 'json_inputs'.",
            name="UnknownInput",
        )
    parameters = record["parameters"]

    def resolve(ctx: InputContext, files: dict[str, str]) -> tuple[Items, Items]:
        inputs = resolve_run_inputs(parameters, json_inputs, files, inputs_mapping, ctx)
        return inputs, run_outputs(parameters, outputs_mapping)

    execution_id = await start_execution(platform, name, None, uploads, resolve, None)
    return {"execution_id": execution_id}
