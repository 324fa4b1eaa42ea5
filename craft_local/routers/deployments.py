"""Deployments (endpoint and periodic): creation, update, listing, their executions, deletion,
SDK-token triggers, new endpoint tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from craft_local.auth import new_token as new_endpoint_token
from craft_local.bodies import JSON, MULTIPART, documented_body, read_body
from craft_local.deployments import SCHEDULE_SINCE, apply_update, build_deployment, deployment_view
from craft_local.deployments import list_item as deployment_list_item
from craft_local.errors import PlatformError, bad_request, conflict
from craft_local.executions import list_item as execution_list_item
from craft_local.launch import trigger_deployment
from craft_local.lookups import deployment_or_404, pipeline_or_404
from craft_local.routers.auth import require_bearer
from craft_local.state import Platform, PlatformDep

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_bearer)])


@router.post(
    "/endpoints",
    openapi_extra=documented_body(
        {
            "pipeline_name": {"type": "string"},
            "deployment_name": {"type": "string"},
            "inputs_mapping": {"type": "array"},
            "outputs_mapping": {"type": "array"},
        }
    ),
)
async def create_endpoint(request: Request, platform: PlatformDep) -> dict[str, Any]:
    body, _ = await read_body(request)
    deployment = _new_deployment(platform, {**body, "execution_rule": "endpoint"})
    if platform.store.deployment_by_path(deployment["endpoint_url_path"]) is not None:
        raise conflict(
            f"endpoint_url_path '{deployment['endpoint_url_path']}' is already used.",
            "EndpointPathAlreadyUsed",
        )
    platform.store.put_deployment(deployment)
    return deployment_view(deployment)


@router.post(
    "/periodic-deployment",
    openapi_extra=documented_body(
        {
            "pipeline_name": {"type": "string"},
            "deployment_name": {"type": "string"},
            "schedule": {"type": "string"},
            "inputs_mapping": {"type": "array"},
            "outputs_mapping": {"type": "array"},
        }
    ),
)
async def create_periodic(request: Request, platform: PlatformDep) -> dict[str, Any]:
    body, _ = await read_body(request)
    deployment = _new_deployment(platform, {**body, "execution_rule": "periodic"})
    if platform.scheduler is not None:  # ticks count from the scheduler's clock
        deployment[SCHEDULE_SINCE] = platform.scheduler.now_iso()
    platform.store.put_deployment(deployment)
    return deployment_view(deployment)


def _new_deployment(platform: Platform, body: dict[str, Any]) -> dict[str, Any]:
    """A valid new deployment; 404 for an unknown pipeline, 409 for a name already used."""
    pipeline_name = body.get("pipeline_name")
    if not isinstance(pipeline_name, str) or not pipeline_name:
        raise bad_request("pipeline_name is required: the pipeline to deploy.")
    record = platform.store.get_pipeline(pipeline_name)
    if record is None:
        raise PlatformError(
            404, "NotFound", f"pipeline_name: no pipeline '{pipeline_name}' to deploy."
        )
    deployment = build_deployment(body, record["parameters"])
    existing = platform.store.get_deployment(deployment["name"])
    if existing is not None:
        owner = existing["pipeline"]["name"]
        which = "this pipeline" if owner == pipeline_name else f"pipeline '{owner}'"
        raise conflict(
            f"deployment_name '{deployment['name']}' is already used by a deployment of {which}.",
            "DeploymentAlreadyExists",
        )
    return deployment


@router.get("/deployments")
async def list_deployments(platform: PlatformDep) -> list[dict[str, Any]]:
    return [deployment_list_item(d) for d in platform.store.list_deployments()]


@router.get("/deployments/{name}")
async def get_deployment(name: str, platform: PlatformDep) -> dict[str, Any]:
    # Deployments are "up" as soon as created: ?wait_for_completion=true answers at once.
    return deployment_view(deployment_or_404(platform.store, name))


@router.patch(
    "/deployments/{name}",
    openapi_extra=documented_body(
        {
            "is_enabled": {"type": "boolean"},
            "schedule": {"type": "string"},
            "inputs_mapping": {"type": "array"},
            "outputs_mapping": {"type": "array"},
        }
    ),
)
async def update_deployment(name: str, request: Request, platform: PlatformDep) -> dict[str, Any]:
    deployment = deployment_or_404(platform.store, name)
    body, _ = await read_body(request)
    record = pipeline_or_404(platform.store, deployment["pipeline"]["name"])
    now = platform.scheduler.now_iso() if platform.scheduler is not None else None
    updated = apply_update(deployment, body, record["parameters"], now or deployment["updated_at"])
    platform.store.put_deployment(updated)
    return deployment_view(updated)


@router.get("/deployments/{name}/executions")
async def list_executions(name: str, platform: PlatformDep) -> list[dict[str, Any]]:
    """The deployment's executions, oldest first (an embedded-platform addition, §6.2)."""
    deployment_or_404(platform.store, name)
    return [execution_list_item(e) for e in platform.store.list_deployment_executions(name)]


@router.delete("/deployments/{name}")
async def delete_deployment(name: str, platform: PlatformDep) -> dict[str, Any]:
    deployment = deployment_or_404(platform.store, name)
    platform.store.delete_deployment(name)
    return {"name": name, "execution_rule": deployment["execution_rule"]}


@router.get("/deployments/{name}/executions/latest")
async def latest(name: str, platform: PlatformDep) -> Any:
    deployment_or_404(platform.store, name)
    execution_id = platform.store.latest_execution(deployment_name=name)
    return Response(status_code=204) if execution_id is None else {"execution_id": execution_id}


@router.post("/deployments/{name}/executions", openapi_extra=documented_body({}, JSON, MULTIPART))
async def trigger_with_sdk_token(
    name: str, request: Request, platform: PlatformDep
) -> dict[str, str]:
    deployment = deployment_or_404(platform.store, name)
    return {"execution_id": await trigger_deployment(platform, deployment, request)}


@router.post("/deployments/{name}/logs")
async def deployment_logs(name: str, platform: PlatformDep) -> list[Any]:
    deployment_or_404(platform.store, name)
    return []  # elastic deployments have no pod logs; see the executions' logs


@router.post(
    "/endpoints/{name}/generate-new-token",
    openapi_extra=documented_body({"endpoint_token": {"type": "string"}}),
)
async def generate_new_token(name: str, request: Request, platform: PlatformDep) -> dict[str, str]:
    deployment = deployment_or_404(platform.store, name)
    fields, _ = await read_body(request)
    token = fields.get("endpoint_token") or new_endpoint_token()
    if not isinstance(token, str) or len(token) < 8:
        raise bad_request("endpoint_token must be a string of at least 8 characters.")
    deployment["endpoint_token"] = token
    platform.store.put_deployment(deployment)
    return {"endpoint_token": token}
