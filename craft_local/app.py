"""The embedded platform's FastAPI app: start-up recovery, shutdown drain, error bodies, and the
routers of ``routers/`` (one per resource)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from craft_local.auth import TokenIssuer, load_or_create_secret
from craft_local.config import PlatformConfig
from craft_local.datadir import make_private, sweep_leftovers
from craft_local.datastore import DataStore
from craft_local.declared import load_declarations
from craft_local.errors import PlatformError, error_body
from craft_local.examples import EXAMPLE_PIPELINES
from craft_local.faults import FaultInjector
from craft_local.hosts import HostAllowList, allowed_names
from craft_local.limits import BodySizeLimit
from craft_local.pages.routes import router as pages_router
from craft_local.routers import (
    auth,
    control,
    datastore,
    deployments,
    endpoints,
    environment,
    executions,
    metrics,
    pipelines,
    pods,
    scheduling,
)
from craft_local.runner import Runner
from craft_local.runtimes import make_runtime
from craft_local.scheduler import Scheduler
from craft_local.state import Platform
from craft_local.store import Store

log = logging.getLogger("craft_local")

#: Written at the end of a graceful stop: the next start re-queues the Pending executions.
STOPPED_MARKER = "stopped-gracefully"


def create_app(config: PlatformConfig) -> FastAPI:
    """Build the app for ``config``: open the store, recover, load declared pipelines.

    Recovery: executions left ``Running`` lost their process and end ``Error``. ``Pending``
    ones are re-queued after a graceful stop (they never started), and end ``Error`` after a
    crash, like the running ones. The data dir is made private, and the work folders of
    executions that no longer run are removed.
    """
    make_private(config.data_dir)
    store = Store(config.data_dir)
    runtime = make_runtime(config, store)
    stopped_marker = config.data_dir / STOPPED_MARKER
    graceful = stopped_marker.exists()
    requeue = store.pending_ids() if graceful else []
    # Executions whose Job outlived the platform are followed again, not failed.
    reattach = runtime.reattachable(store.running_ids())
    recovered = store.fail_unfinished("restarted", pending=not graceful, keep=reattach)
    stopped_marker.unlink(missing_ok=True)
    sweep_leftovers(config.data_dir, store.data_dir / "executions", reattach)
    if recovered:
        log.warning("%d unfinished execution(s) marked Error after a restart", recovered)
    folders = [EXAMPLE_PIPELINES] if config.examples else []
    if config.pipelines_dir is not None:
        folders.append(config.pipelines_dir)
    for folder in folders:
        names = load_declarations(folder, store)
        log.info("declared pipelines loaded from %s: %s", folder, ", ".join(names) or "none")
    env_id_path = config.data_dir / "environment-id"
    if not env_id_path.exists():
        env_id_path.write_text(str(uuid.uuid4()))
    secret = load_or_create_secret(config.data_dir)
    tokens = TokenIssuer(secret, config.sdk_token, config.jwt_lifetime)
    runner = Runner(store, config.max_concurrency, runtime, tokens.execution_credential)
    for execution_id in reattach:
        runner.submit(execution_id, attach=True)
    if requeue:
        log.info("%d pending execution(s) re-queued after a graceful stop", len(requeue))
    for execution_id in requeue:
        runner.submit(execution_id)

    app = FastAPI(
        title="craft-local", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan
    )
    _install_error_handlers(app)
    _include_routers(app)
    # Served stack: Host allow-list -> fault injection -> body size limit -> routes.
    faults = FaultInjector(BodySizeLimit(app, config.max_request_bytes), config.faults)
    hosts = allowed_names(config.host, (config.public_url, config.kubernetes.pod_platform_url))
    app.state.served = HostAllowList(faults, hosts)
    app.state.platform = Platform(
        config,
        store,
        tokens,
        runner,
        faults,
        env_id_path.read_text(),
        DataStore(store.datastore_dir, secret),
    )
    app.state.scheduler = app.state.platform.scheduler = Scheduler(app.state.platform)
    app.state.scheduler.mark_lost_ticks()
    return app


def _include_routers(app: FastAPI) -> None:
    for router in (
        environment.public_router,
        auth.router,
        environment.router,
        pipelines.router,
        executions.router,
        metrics.record_router,
        metrics.read_router,
        deployments.router,
        datastore.router,
        datastore.signed_router,
        endpoints.router,
        control.router,
        scheduling.router,
        pods.router,  # before the pages: they end with a catch-all
        pages_router,
    ):
        app.include_router(router)


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI document of every route (not served: the fuzz suite drives the routes from
    it, ``tests/craft_local/test_openapi_fuzz.py``)."""
    app = FastAPI(title="craft-local", docs_url=None, redoc_url=None, openapi_url=None)
    _include_routers(app)
    with warnings.catch_warnings():  # the pages answer GET and HEAD under one operation id
        warnings.simplefilter("ignore", UserWarning)
        return app.openapi()


def asgi_app(app: FastAPI) -> HostAllowList:
    """The ASGI application to serve for an app made by :func:`create_app`."""
    served: HostAllowList = app.state.served
    return served


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Schedule periodic deployments while serving; on a graceful stop: drain running
    executions, log the fault counters, mark the stop."""
    platform: Platform = app.state.platform
    stop_scheduling = asyncio.Event()
    scheduling = None
    scheduler: Scheduler | None = getattr(app.state, "scheduler", None)
    if scheduler is not None:
        scheduling = asyncio.create_task(scheduler.loop(stop_scheduling))
    yield
    stop_scheduling.set()
    if scheduling is not None:
        await scheduling
    config = platform.config
    platform.begin_stop()
    log.info("stopping: draining running executions (up to %g s)", config.shutdown_grace_seconds)
    killed = await run_in_threadpool(platform.runner.shutdown, config.shutdown_grace_seconds)
    if killed:
        log.warning("%d execution(s) still running after the grace period: Error", killed)
    log.info("fault counters at stop: %s", json.dumps(dict(platform.faults.counters)))
    (config.data_dir / STOPPED_MARKER).write_text("graceful stop\n")
    platform.store.close()


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
