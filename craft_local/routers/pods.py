"""The pod API: what a Kubernetes pod running an execution fetches and posts.

Every call carries the execution's pod token (``Authorization: Bearer``), which opens this
API for that execution only while it runs. Not under ``/api/v1``: no SDK token opens it, and
injected faults do not apply. Served only by the ``kubernetes`` runtime (404 otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from craft_local.bodies import read_limited
from craft_local.errors import bad_request, not_found
from craft_local.runtimes import Launch
from craft_local.runtimes.pod_gateway import PodGateway
from craft_local.state import Platform, get_platform

router = APIRouter(prefix="/pod-api/v1/executions/{execution_id}")
#: A pod's report holds the returned outputs (non-file values are small, files go apart).
MAX_REPORT_BYTES = 16 * 1024 * 1024


def _gateway(platform: Annotated[Platform, Depends(get_platform)]) -> PodGateway:
    gateway = getattr(platform.runner.runtime, "pods", None)
    if not isinstance(gateway, PodGateway):
        raise not_found("Pod API", "this platform runs executions as processes")
    return gateway


Gateway = Annotated[PodGateway, Depends(_gateway)]


def _launch(execution_id: str, request: Request, gateway: Gateway) -> Launch:
    return gateway.authorize(execution_id, request.headers.get("authorization"))


Authorized = Annotated[Launch, Depends(_launch)]


@router.get("/job")
async def job(launch: Authorized, gateway: Gateway) -> dict[str, Any]:
    return gateway.job_document(launch)


@router.get("/code")
async def code(launch: Authorized, gateway: Gateway) -> FileResponse:
    path = await run_in_threadpool(gateway.code_archive, launch)
    return FileResponse(path, media_type="application/gzip")


@router.get("/sdk")
async def sdk_packages(launch: Authorized, gateway: Gateway) -> FileResponse:
    path = await run_in_threadpool(gateway.sdk_archive)
    return FileResponse(path, media_type="application/gzip")


@router.get("/inputs/{name}")
async def input_file(name: str, launch: Authorized, gateway: Gateway) -> FileResponse:
    return FileResponse(gateway.input_file(launch, name), media_type="application/octet-stream")


@router.put("/files/{relative:path}")
async def output_file(
    relative: str, request: Request, launch: Authorized, gateway: Gateway
) -> dict[str, str]:
    target = gateway.output_target(launch, relative)
    await run_in_threadpool(target.parent.mkdir, parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    with open(tmp, "wb") as out:
        async for chunk in request.stream():
            await run_in_threadpool(out.write, chunk)
    await run_in_threadpool(Path(tmp).replace, target)
    return {"path": relative}


@router.post("/result")
async def result(request: Request, launch: Authorized, gateway: Gateway) -> JSONResponse:
    raw = await read_limited(request, MAX_REPORT_BYTES)
    try:
        # Not jsontext.loads: the outputs inside are checked, by name, when the run concludes.
        report = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad_request("the report must be JSON") from None
    if not isinstance(report, dict):
        raise bad_request("the report must be a JSON object")
    await run_in_threadpool(gateway.record, launch, report)
    return JSONResponse({"execution_id": launch.execution_id})
