"""The HTTP routes of the embedded platform (FastAPI), one handler per contract call."""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from craft_airflow.local.auth import USER, TokenIssuer, load_or_create_secret, tokens_equal
from craft_airflow.local.auth import new_token as new_endpoint_token
from craft_airflow.local.config import PlatformConfig
from craft_airflow.local.datastore import DataStore
from craft_airflow.local.declared import load_declarations
from craft_airflow.local.deployments import build_deployment
from craft_airflow.local.deployments import list_item as deployment_list_item
from craft_airflow.local.errors import (
    PlatformError,
    bad_request,
    conflict,
    error_body,
    not_found,
    unauthorized,
)
from craft_airflow.local.executions import (
    endpoint_outputs,
    execution_view,
    new_execution_id,
    outputs_view,
)
from craft_airflow.local.executions import list_item as execution_list_item
from craft_airflow.local.faults import FaultInjector
from craft_airflow.local.limits import BodySizeLimit
from craft_airflow.local.mappings import (
    InputContext,
    deployment_outputs,
    resolve_endpoint_inputs,
    resolve_run_inputs,
    run_outputs,
)
from craft_airflow.local.pages.routes import router as pages_router
from craft_airflow.local.pipelines import (
    MAX_FORM_FIELDS,
    build_parameters,
    pipeline_view,
    unflatten,
)
from craft_airflow.local.runner import Runner
from craft_airflow.local.state import Platform, get_platform
from craft_airflow.local.store import TERMINAL_STATUSES, Store
from craft_airflow.local.tarball import UnsafeArchive, safe_extract

log = logging.getLogger("craft_airflow.local")

#: Written at the end of a graceful stop: the next start re-queues the Pending executions.
STOPPED_MARKER = "stopped-gracefully"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

_Items = list[dict[str, Any]]
#: Turns a request into an execution's (inputs, outputs); file inputs already saved.
_Resolve = Callable[[InputContext, dict[str, str]], tuple[_Items, _Items]]


# ---- request bodies -------------------------------------------------------------------


async def _read_body(request: Request) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    """Text fields and file parts of a JSON, form-urlencoded or multipart body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_files=1000, max_fields=MAX_FORM_FIELDS)
        fields: dict[str, Any] = {}
        files: dict[str, UploadFile] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = value
            else:
                fields[key] = value
        return fields, files
    raw = await request.body()
    if not raw.strip():
        return {}, {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body, {}


def _json_field(fields: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    """A field holding JSON text (form) or a JSON value (JSON body)."""
    if key not in fields or fields[key] in ("", None):
        return default
    value = fields[key]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_request(f"'{key}' is not valid JSON.") from None
    if not isinstance(value, kind):
        raise bad_request(f"'{key}' must be a JSON {'object' if kind is dict else 'array'}.")
    return value


def _safe_name(filename: str | None, fallback: str) -> str:
    base = Path(filename or "").name
    base = _SAFE_FILENAME.sub("_", base).strip("._") or fallback
    return base[:120]


def _write_upload(upload: UploadFile, target: Path) -> None:
    """Copy an uploaded file to ``target`` (blocking: call it in a thread)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    upload.file.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(upload.file, out)


async def _save_uploads(uploads: dict[str, UploadFile], exec_dir: Path) -> dict[str, str]:
    """Copy file parts under ``exec_dir/inputs/<name>/``; return name -> relative path."""
    saved = {}
    for name, upload in uploads.items():
        rel = Path("inputs") / _safe_name(name, "input") / _safe_name(upload.filename, "file")
        await run_in_threadpool(_write_upload, upload, exec_dir / rel)
        saved[name] = str(rel)
    return saved


async def _wait_terminal(platform: Platform, execution_id: str, seconds: float) -> str | None:
    """Poll the status (cheap SQLite read) until terminal or ``seconds`` have passed (or the
    platform is stopping)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        status = platform.store.get_status(execution_id)
        remaining = deadline - loop.time()
        if (
            status is None
            or status in TERMINAL_STATUSES
            or remaining <= 0
            or platform.stopping.is_set()
        ):
            return status
        await asyncio.sleep(min(0.05, remaining))


def _redirect_to_self(request: Request) -> Response:
    location = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Response(status_code=307, headers={"Location": location})


def _get_pipeline(store: Store, name: str) -> dict[str, Any]:
    record = store.get_pipeline(name)
    if record is None:
        raise not_found("Pipeline", name)
    return record


def _get_execution(store: Store, execution_id: str) -> dict[str, Any]:
    execution = store.get_execution(execution_id)
    if execution is None:
        raise not_found("Execution", execution_id)
    return execution


def _file_response(path: Path, filename: str) -> FileResponse:
    return FileResponse(path, media_type="application/octet-stream", filename=filename)


def _value_response(execution: dict[str, Any], items: str, name: str, exec_dir: Path) -> Response:
    """One input/output value: bytes for files, JSON otherwise (§5.5, §5.6)."""
    key = "pipeline_input_name" if items == "inputs" else "pipeline_output_name"
    item = next((i for i in execution[items] if i[key] == name), None)
    if item is None:
        raise PlatformError(
            404,
            "NotFound",
            f"Execution '{execution['execution_id']}' has no {items[:-1]} '{name}'.",
        )
    if items == "outputs" and execution["status"] != "Succeeded":
        raise PlatformError(
            409,
            "OutputNotAvailable",
            f"Execution '{execution['execution_id']}' is {execution['status']}: no output values.",
        )
    if "_file" in item:
        rel = Path(item["_file"])
        return _file_response(exec_dir / rel, rel.name)
    return JSONResponse(item.get("value"))


# ---- the application ------------------------------------------------------------------


def create_app(config: PlatformConfig) -> FastAPI:
    """Build the app for ``config``: open the store, recover, load declared pipelines.

    Recovery: executions left ``Running`` lost their process and end ``Error``. ``Pending``
    ones are re-queued after a graceful stop (they never started), and end ``Error`` after a
    crash, like the running ones.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(config.data_dir)
    stopped_marker = config.data_dir / STOPPED_MARKER
    graceful = stopped_marker.exists()
    requeue = store.pending_ids() if graceful else []
    recovered = store.fail_unfinished("restarted", pending=not graceful)
    stopped_marker.unlink(missing_ok=True)
    if recovered:
        log.warning("%d unfinished execution(s) marked Error after a restart", recovered)
    if config.pipelines_dir is not None:
        names = load_declarations(config.pipelines_dir, store)
        log.info("declared pipelines loaded: %s", ", ".join(names) or "none")
    env_id_path = config.data_dir / "environment-id"
    if not env_id_path.exists():
        env_id_path.write_text(str(uuid.uuid4()))
    secret = load_or_create_secret(config.data_dir)
    tokens = TokenIssuer(secret, config.sdk_token, config.jwt_lifetime)
    runner = Runner(store, config.max_concurrency)
    if requeue:
        log.info("%d pending execution(s) re-queued after a graceful stop", len(requeue))
    for execution_id in requeue:
        runner.submit(execution_id)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        platform: Platform = app.state.platform
        platform.begin_stop()
        log.info(
            "stopping: draining running executions (up to %g s)", config.shutdown_grace_seconds
        )
        killed = await run_in_threadpool(runner.shutdown, config.shutdown_grace_seconds)
        if killed:
            log.warning("%d execution(s) still running after the grace period: Error", killed)
        log.info("fault counters at stop: %s", json.dumps(dict(platform.faults.counters)))
        stopped_marker.write_text("graceful stop\n")
        store.close()

    app = FastAPI(
        title="craft-local", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    _install_error_handlers(app)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(_require_bearer)])
    _public_routes(app)
    _pipeline_routes(api)
    _execution_routes(api)
    _deployment_routes(api)
    _misc_routes(api)
    _datastore_routes(api, app)
    _endpoint_routes(app)
    _control_routes(app)
    app.include_router(api)
    app.include_router(pages_router)
    # Served stack: fault injection -> body size limit -> routes.
    faults = FaultInjector(BodySizeLimit(app, config.max_request_bytes), config.faults)
    app.state.platform = Platform(
        config,
        store,
        tokens,
        runner,
        faults,
        env_id_path.read_text(),
        DataStore(store.datastore_dir, secret),
    )
    return app


def asgi_app(app: FastAPI) -> FaultInjector:
    """The ASGI application to serve for an app made by :func:`create_app`."""
    platform: Platform = app.state.platform
    return platform.faults


async def _require_bearer(request: Request) -> None:
    get_platform(request).tokens.check_bearer(request.headers.get("authorization"))


def _install_error_handlers(app: FastAPI) -> None:
    def reply(
        request: Request, status: int, name: str, message: str, data: Any = None
    ) -> JSONResponse:
        request_id = uuid.uuid4().hex
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(name, message, request_id, data), status, headers=headers)

    @app.exception_handler(PlatformError)
    async def platform_error(request: Request, exc: PlatformError) -> JSONResponse:
        return reply(request, exc.status, exc.name, exc.message, exc.additional_data)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return reply(request, 404, "NotFound", f"No route {request.method} {request.url.path}.")
        if exc.status_code == 405:
            return reply(request, 405, "MethodNotAllowed", f"{request.method} is not allowed here.")
        return reply(request, exc.status_code, "HttpError", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return reply(
            request, 400, "InvalidRequest", "Invalid request parameters.", {"errors": details}
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return reply(request, 500, "InternalError", "The platform failed to handle the request.")


# ---- auth, users, environment ---------------------------------------------------------


def _public_routes(app: FastAPI) -> None:
    @app.get("/api/v1/environment-info")
    async def environment_info(request: Request) -> dict[str, Any]:
        return {"environment_id": get_platform(request).environment_id}

    @app.post("/api/v1/auth/refresh")
    async def refresh(request: Request) -> dict[str, Any]:
        fields, _ = await _read_body(request)
        return {"access_token": get_platform(request).tokens.refresh(fields.get("refresh_token"))}


def _misc_routes(api: APIRouter) -> None:
    @api.get("/users/me")
    async def me() -> dict[str, Any]:
        return dict(USER)

    @api.get("/users/{user_id}")
    async def user(user_id: str) -> dict[str, Any]:
        if user_id != USER["id"]:
            raise not_found("User", user_id)
        return dict(USER)

    @api.get("/project-information")
    async def project_information() -> dict[str, Any]:
        return {
            "name": "local",
            "language": "python:3.11-slim",
            "requirements_path": None,
            "included_folders": None,
            "system_dependencies": None,
            "repository_url": None,
            "repository_branch": None,
            "dockerfile_path": None,
        }

    def env_list(store: Store) -> list[dict[str, str]]:
        return [{"name": k, "value": v} for k, v in store.env_vars().items()]

    @api.get("/environment-variables")
    async def list_env(request: Request) -> list[dict[str, str]]:
        return env_list(get_platform(request).store)

    @api.put("/environment-variables")
    async def put_env(request: Request) -> list[dict[str, str]]:
        fields, _ = await _read_body(request)
        values = fields.get("environment_variables")
        if not isinstance(values, dict):
            raise bad_request("Expected {'environment_variables': {NAME: value}}.")
        clean = {}
        for name, value in values.items():
            if not _ENV_NAME.match(name):
                raise bad_request(f"Invalid environment variable name {name!r}.")
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise bad_request(f"The value of '{name}' must be a string.")
            clean[name] = str(value)
        store = get_platform(request).store
        store.set_env_vars(clean)
        return env_list(store)

    @api.delete("/environment-variables/{name}")
    async def delete_env(name: str, request: Request) -> dict[str, str]:
        value = get_platform(request).store.delete_env_var(name)
        if value is None:
            raise not_found("EnvironmentVariable", name)
        return {"name": name, "value": value}


# ---- pipelines ------------------------------------------------------------------------


def _pipeline_routes(api: APIRouter) -> None:
    @api.post("/pipelines")
    async def create_pipeline(request: Request) -> dict[str, Any]:
        platform = get_platform(request)
        fields, files = await _read_body(request)
        if request.headers.get("content-type", "").startswith("application/json"):
            raw = fields
        else:
            raw = unflatten(fields.items())
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
            staging = Path(tempfile.mkdtemp(prefix="code-", dir=platform.config.data_dir))
            try:
                safe_extract(step_file.file, staging, platform.config.max_code_bytes)
                if not (staging / parameters["function_path"]).is_file():
                    raise bad_request(
                        f"function_path '{parameters['function_path']}' is not in the uploaded"
                        " code.",
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

    @api.get("/pipelines")
    async def list_pipelines(request: Request) -> list[dict[str, Any]]:
        return [
            {
                "pipeline_name": p["parameters"]["pipeline_name"],
                "created_at": p["created_at"],
                "status": "ready",
            }
            for p in get_platform(request).store.list_pipelines()
        ]

    @api.get("/pipelines/{name}")
    async def get_pipeline(name: str, request: Request) -> dict[str, Any]:
        # Creation is synchronous, so ?wait_for_completion=true answers at once.
        return pipeline_view(_get_pipeline(get_platform(request).store, name))

    @api.delete("/pipelines/{name}")
    async def delete_pipeline(
        name: str, request: Request, force_deployments_deletion: str = "false"
    ) -> dict[str, Any]:
        store = get_platform(request).store
        _get_pipeline(store, name)
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

    @api.post("/pipelines/{name}/logs")
    async def pipeline_logs(name: str, request: Request) -> list[Any]:
        _get_pipeline(get_platform(request).store, name)
        return []  # nothing is built, so there are no build logs

    @api.get("/pipelines/{name}/executions")
    async def list_executions(name: str, request: Request) -> list[dict[str, Any]]:
        store = get_platform(request).store
        _get_pipeline(store, name)
        return [execution_list_item(e) for e in store.list_executions(name)]

    @api.get("/pipelines/{name}/executions/latest")
    async def latest_execution(name: str, request: Request) -> Any:
        store = get_platform(request).store
        _get_pipeline(store, name)
        latest = store.latest_execution(pipeline_name=name)
        return Response(status_code=204) if latest is None else {"execution_id": latest}

    @api.post("/pipelines/{name}/run")
    async def run_pipeline(name: str, request: Request) -> dict[str, str]:
        platform = get_platform(request)
        record = _get_pipeline(platform.store, name)
        fields, uploads = await _read_body(request)
        json_inputs = _json_field(fields, "json_inputs", dict, {})
        inputs_mapping = _json_field(fields, "inputs_mapping", list, None)
        outputs_mapping = _json_field(fields, "outputs_mapping", list, None)
        unknown_fields = set(fields) - {"json_inputs", "inputs_mapping", "outputs_mapping"}
        if unknown_fields:
            raise bad_request(
                f"Unknown field(s) {', '.join(sorted(unknown_fields))}: non-file inputs go in"
                " 'json_inputs'.",
                name="UnknownInput",
            )
        parameters = record["parameters"]

        def resolve(ctx: InputContext, files: dict[str, str]) -> tuple[_Items, _Items]:
            inputs = resolve_run_inputs(parameters, json_inputs, files, inputs_mapping, ctx)
            return inputs, run_outputs(parameters, outputs_mapping)

        return {"execution_id": await _start(platform, name, None, uploads, resolve, None)}


async def _start(
    platform: Platform,
    pipeline_name: str,
    deployment_name: str | None,
    uploads: dict[str, UploadFile],
    resolve: _Resolve,
    timeout_s: float | None,
) -> str:
    """Create an execution (files saved, inputs resolved) and queue it; return its id."""
    store = platform.store
    execution_id = new_execution_id(pipeline_name)
    while store.execution_exists(execution_id):
        execution_id = new_execution_id(pipeline_name)
    exec_dir = store.execution_dir(execution_id)
    try:
        files = await _save_uploads(uploads, exec_dir)
        ctx = InputContext(exec_dir, store.env_vars(), store.datastore_dir)
        # In a thread: data-store inputs are copied into the execution folder.
        inputs, outputs = await run_in_threadpool(resolve, ctx, files)
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


# ---- executions -----------------------------------------------------------------------


def _execution_routes(api: APIRouter) -> None:
    @api.get("/executions/{execution_id}")
    async def get_execution(
        execution_id: str, request: Request, include_io_values: str = "true"
    ) -> dict[str, Any]:
        execution = _get_execution(get_platform(request).store, execution_id)
        return execution_view(execution, include_io_values.lower() != "false")

    @api.get("/executions/{execution_id}/outputs")
    async def get_outputs(
        execution_id: str, request: Request, wait_for_completion: str = "false"
    ) -> Any:
        platform = get_platform(request)
        _get_execution(platform.store, execution_id)
        if wait_for_completion.lower() == "true":
            status = await _wait_terminal(platform, execution_id, platform.config.long_poll_seconds)
            if status is not None and status not in TERMINAL_STATUSES:
                return _redirect_to_self(request)
        execution = _get_execution(platform.store, execution_id)
        if execution["status"] not in TERMINAL_STATUSES:
            return {"outputs": [], "status": execution["status"]}
        return outputs_view(execution)

    @api.get("/executions/{execution_id}/outputs/{name}")
    async def get_output(execution_id: str, name: str, request: Request) -> Response:
        store = get_platform(request).store
        execution = _get_execution(store, execution_id)
        return _value_response(execution, "outputs", name, store.execution_dir(execution_id))

    @api.get("/executions/{execution_id}/inputs/{name}")
    async def get_input(execution_id: str, name: str, request: Request) -> Response:
        store = get_platform(request).store
        execution = _get_execution(store, execution_id)
        return _value_response(execution, "inputs", name, store.execution_dir(execution_id))

    @api.post("/executions/{execution_id}/logs")
    async def get_logs(execution_id: str, request: Request) -> list[list[dict[str, str]]]:
        store = get_platform(request).store
        _get_execution(store, execution_id)
        body, _ = await _read_body(request)
        bounds = {}
        for key in ("from", "to", "limit"):
            value = body.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise bad_request(f"'{key}' must be an integer (epoch milliseconds for from/to).")
            bounds[key] = value
        if bounds["limit"] is not None and bounds["limit"] < 0:
            raise bad_request("'limit' must not be negative.")
        logs = await run_in_threadpool(
            store.logs, execution_id, bounds["from"], bounds["to"], bounds["limit"]
        )
        return [logs]

    @api.delete("/executions/{execution_id}")
    async def delete_execution(execution_id: str, request: Request) -> dict[str, str]:
        platform = get_platform(request)
        execution = _get_execution(platform.store, execution_id)
        # Open question 15: deleting a running execution stops its process.
        if execution["status"] not in TERMINAL_STATUSES:
            platform.runner.cancel(execution_id)
        await run_in_threadpool(platform.store.delete_execution, execution_id)
        return {"execution_id": execution_id}


# ---- deployments ----------------------------------------------------------------------


def _get_deployment(store: Store, name: str) -> dict[str, Any]:
    deployment = store.get_deployment(name)
    if deployment is None:
        raise not_found("Deployment", name)
    return deployment


async def _trigger(platform: Platform, deployment: dict[str, Any], request: Request) -> str:
    """Start an execution of ``deployment`` from an endpoint-style body (§7.1)."""
    record = platform.store.get_pipeline(deployment["pipeline"]["name"])
    if record is None:
        raise PlatformError(409, "PipelineNotFound", "The deployment's pipeline was deleted.")
    content_type = request.headers.get("content-type", "")
    fields, uploads = await _read_body(request)
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        # Text parts carry JSON-encoded values (a string arrives as "\"x\"").
        decoded = {}
        for key, value in fields.items():
            try:
                decoded[key] = json.loads(value)
            except ValueError:
                decoded[key] = value
        fields = decoded
    parameters = record["parameters"]

    def resolve(ctx: InputContext, files: dict[str, str]) -> tuple[_Items, _Items]:
        inputs = resolve_endpoint_inputs(deployment, parameters, fields, files, ctx)
        return inputs, deployment_outputs(deployment, parameters)

    return await _start(
        platform,
        parameters["pipeline_name"],
        deployment["name"],
        uploads,
        resolve,
        deployment.get("execution_timeout_s"),
    )


def _deployment_routes(api: APIRouter) -> None:
    @api.post("/endpoints")
    async def create_endpoint(request: Request) -> dict[str, Any]:
        platform = get_platform(request)
        body, _ = await _read_body(request)
        record = _get_pipeline(platform.store, str(body.get("pipeline_name")))
        deployment = build_deployment({**body, "execution_rule": "endpoint"}, record["parameters"])
        if platform.store.get_deployment(deployment["name"]) is not None:
            raise conflict(
                f"Deployment '{deployment['name']}' already exists.", "DeploymentAlreadyExists"
            )
        if platform.store.deployment_by_path(deployment["endpoint_url_path"]) is not None:
            raise conflict(
                f"endpoint_url_path '{deployment['endpoint_url_path']}' is already used.",
                "EndpointPathAlreadyUsed",
            )
        platform.store.put_deployment(deployment)
        return deployment

    @api.post("/periodic-deployment")
    async def create_periodic() -> None:
        raise bad_request(
            "Periodic deployments are not available on the embedded platform.", name="NotSupported"
        )

    @api.get("/deployments")
    async def list_deployments(request: Request) -> list[dict[str, Any]]:
        return [deployment_list_item(d) for d in get_platform(request).store.list_deployments()]

    @api.get("/deployments/{name}")
    async def get_deployment(name: str, request: Request) -> dict[str, Any]:
        # Deployments are "up" as soon as created: ?wait_for_completion=true answers at once.
        return _get_deployment(get_platform(request).store, name)

    @api.delete("/deployments/{name}")
    async def delete_deployment(name: str, request: Request) -> dict[str, Any]:
        store = get_platform(request).store
        deployment = _get_deployment(store, name)
        store.delete_deployment(name)
        return {"name": name, "execution_rule": deployment["execution_rule"]}

    @api.get("/deployments/{name}/executions/latest")
    async def latest(name: str, request: Request) -> Any:
        store = get_platform(request).store
        _get_deployment(store, name)
        execution_id = store.latest_execution(deployment_name=name)
        return Response(status_code=204) if execution_id is None else {"execution_id": execution_id}

    @api.post("/deployments/{name}/executions")
    async def trigger_with_sdk_token(name: str, request: Request) -> dict[str, str]:
        platform = get_platform(request)
        deployment = _get_deployment(platform.store, name)
        return {"execution_id": await _trigger(platform, deployment, request)}

    @api.post("/deployments/{name}/logs")
    async def deployment_logs(name: str, request: Request) -> list[Any]:
        _get_deployment(get_platform(request).store, name)
        return []  # elastic deployments have no pod logs; see the executions' logs

    @api.post("/endpoints/{name}/generate-new-token")
    async def generate_new_token(name: str, request: Request) -> dict[str, str]:
        store = get_platform(request).store
        deployment = _get_deployment(store, name)
        fields, _ = await _read_body(request)
        token = fields.get("endpoint_token") or new_endpoint_token()
        if not isinstance(token, str) or len(token) < 8:
            raise bad_request("endpoint_token must be a string of at least 8 characters.")
        deployment["endpoint_token"] = token
        store.put_deployment(deployment)
        return {"endpoint_token": token}


# ---- public endpoint calls (EndpointToken) --------------------------------------------


def _endpoint_auth(store: Store, path: str, token: str | None) -> dict[str, Any]:
    deployment = store.deployment_by_path(path)
    # Same answer for an unknown path and a bad token: nothing to learn without a token.
    if deployment is None or not tokens_equal(token, deployment["endpoint_token"]):
        raise unauthorized("Unknown endpoint or invalid endpoint token.")
    return deployment


def _endpoint_token(request: Request, *, query: bool = True) -> str | None:
    """The ``Authorization: EndpointToken <t>`` header, else (with ``query``) ``?token=``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "endpointtoken" and token:
        return token.strip()
    return request.query_params.get("token") if query else None


def _endpoint_execution(
    store: Store, deployment: dict[str, Any], execution_id: str
) -> dict[str, Any]:
    """An execution of ``deployment``; 404 for any other (no peeking across endpoints)."""
    execution = store.get_execution(execution_id)
    if execution is None or execution["deployment_name"] != deployment["name"]:
        raise not_found("Execution", execution_id)
    return execution


def _endpoint_routes(app: FastAPI) -> None:
    @app.post("/endpoints/{path}")
    async def trigger(path: str, request: Request) -> JSONResponse:
        platform = get_platform(request)
        deployment = _endpoint_auth(platform.store, path, _endpoint_token(request, query=False))
        execution_id = await _trigger(platform, deployment, request)
        # Open question 2: 200 with the id in the body and the legacy header, no redirect;
        # the results URL is /endpoints/v1/{path}/executions/{id}?token=...
        return JSONResponse(
            {"execution_id": execution_id}, headers={"Craft-Ai-Execution-Id": execution_id}
        )

    @app.get("/endpoints/v1/{path}/executions/{execution_id}")
    async def results(path: str, execution_id: str, request: Request) -> Response:
        platform = get_platform(request)
        deployment = _endpoint_auth(platform.store, path, _endpoint_token(request))
        execution = _endpoint_execution(platform.store, deployment, execution_id)
        status = await _wait_terminal(platform, execution_id, platform.config.long_poll_seconds)
        if status is None:
            raise not_found("Execution", execution_id)
        if status not in TERMINAL_STATUSES:
            return _redirect_to_self(request)
        execution = _get_execution(platform.store, execution_id)
        if status != "Succeeded":
            raise PlatformError(
                500,
                "ExecutionFailed",
                f"Execution '{execution_id}' ended {status}: {execution['error'] or 'no details'}",
                {"execution_id": execution_id, "status": status},
            )
        base = str(request.base_url).rstrip("/")
        files_base = f"{base}/endpoints/v1/{path}/executions/{execution_id}/outputs"
        return JSONResponse(
            {"outputs": endpoint_outputs(execution, files_base), "execution_id": execution_id}
        )

    @app.get("/endpoints/v1/{path}/executions/{execution_id}/outputs/{name}")
    async def download(path: str, execution_id: str, name: str, request: Request) -> Response:
        platform = get_platform(request)
        deployment = _endpoint_auth(platform.store, path, _endpoint_token(request))
        execution = _endpoint_execution(platform.store, deployment, execution_id)
        item = next(
            (
                i
                for i in execution["outputs"]
                if i["mapping_type"] == "endpoint"
                and i["mapping_value"]["endpoint_output_name"] == name
                and "_file" in i
            ),
            None,
        )
        if item is None:
            raise PlatformError(
                404, "NotFound", f"Execution '{execution_id}' has no file output '{name}'."
            )
        rel = Path(item["_file"])
        return _file_response(platform.store.execution_dir(execution_id) / rel, rel.name)


# ---- control --------------------------------------------------------------------------


def _control_routes(app: FastAPI) -> None:
    def check(request: Request) -> FaultInjector:
        platform = get_platform(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not (scheme.lower() == "bearer" and platform.tokens.is_sdk_token(token.strip())):
            platform.tokens.check_bearer(request.headers.get("authorization"))
        return platform.faults

    @app.get("/_local/faults")
    async def read_faults(request: Request) -> dict[str, Any]:
        return check(request).snapshot()

    @app.put("/_local/faults")
    async def change_faults(request: Request) -> dict[str, Any]:
        faults = check(request)
        body, _ = await _read_body(request)
        reset_counters = bool(body.pop("reset_counters", False))
        try:
            faults.reconfigure(body)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        if reset_counters:
            faults.counters.clear()
        return faults.snapshot()

    @app.get("/_local/status")
    async def status(request: Request) -> dict[str, Any]:
        """Executions by status and the unfinished ones (never affected by faults)."""
        check(request)
        store = get_platform(request).store
        return {"executions": store.count_by_status(), "unfinished": store.unfinished_ids()}


# ---- data store -----------------------------------------------------------------------


def _xml_error(status: int, code: str, message: str) -> Response:
    """Presigned-URL errors come as S3-style XML (§8)."""
    body = f"<Error><Code>{code}</Code><Message>{html.escape(message)}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")


def _datastore_routes(api: APIRouter, app: FastAPI) -> None:
    @api.get("/data-store/list")
    async def list_objects(request: Request, folder_path: str = "") -> dict[str, Any]:
        items = await run_in_threadpool(get_platform(request).datastore.list, folder_path or None)
        return {"items": items, "continuation_token": None}

    @api.post("/data-store/information")
    async def information(request: Request) -> dict[str, Any]:
        fields, _ = await _read_body(request)
        path = str(fields.get("path_to_object") or "")
        info = get_platform(request).datastore.info(path)
        if info is None:
            raise not_found("Object", path)
        return info

    @api.get("/data-store/upload")
    async def upload_url(request: Request, path_to_object: str) -> dict[str, Any]:
        fields = get_platform(request).datastore.presigned_fields("upload", path_to_object)
        base = str(request.base_url).rstrip("/")
        return {"signed_url": f"{base}/_local/data-store/upload", "fields": fields}

    @api.post("/data-store/download")
    async def download_url(request: Request) -> dict[str, Any]:
        fields, _ = await _read_body(request)
        path = str(fields.get("path_to_object") or "")
        datastore = get_platform(request).datastore
        if datastore.info(path) is None:
            raise not_found("Object", path)
        base = str(request.base_url).rstrip("/")
        return {"signed_url": f"{base}/_local/data-store/object?{datastore.download_query(path)}"}

    @api.delete("/data-store/delete")
    async def delete_object(request: Request) -> dict[str, Any]:
        fields, _ = await _read_body(request)
        path = str(fields.get("path_to_object") or "")
        file = get_platform(request).datastore.path(path)
        if not file.is_file():
            raise not_found("Object", path)
        file.unlink()
        return {"path": path}

    @api.post("/data-store/upload/multipart")
    async def multipart_upload() -> None:
        raise bad_request(
            "Multipart uploads (objects of 100 MB or more) are not supported by the embedded"
            " platform.",
            name="NotSupported",
        )

    @app.post("/_local/data-store/upload")
    async def presigned_upload(request: Request) -> Response:
        fields, files = await _read_body(request)
        datastore = get_platform(request).datastore
        try:
            path = datastore.check("upload", fields)
        except PermissionError as exc:
            return _xml_error(403, "AccessDenied", str(exc))
        upload = files.get("file")
        if upload is None:
            return _xml_error(400, "InvalidArgument", "missing 'file' part")
        await run_in_threadpool(_write_upload, upload, datastore.path(path))
        return Response(status_code=204)

    @app.get("/_local/data-store/object")
    async def presigned_download(request: Request) -> Response:
        datastore = get_platform(request).datastore
        try:
            path = datastore.check("download", dict(request.query_params))
        except PermissionError as exc:
            return _xml_error(403, "AccessDenied", str(exc))
        file = datastore.path(path)
        if not file.is_file():
            return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
        return _file_response(file, file.name)
