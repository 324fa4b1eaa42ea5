"""The page routes: HTML for a person, outside ``/api/v1`` and ``/endpoints``.

Pages need no credentials (the embedded platform is a local tool on loopback) and so show no
secret: see :mod:`craft_local.pages.views`. A GET for a page that does not exist answers
an HTML 404 to browsers; every other unknown request keeps the platform's JSON 404, and API
paths are never matched here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, PackageLoader
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException

from craft_local.pages.views import (
    deployment_page,
    execution_page,
    requirement,
    schedule_page,
    when,
)
from craft_local.state import Platform, get_platform

#: Executions listed on a pipeline or deployment page, newest first.
MAX_LISTED = 200

_env = Environment(
    loader=PackageLoader("craft_local.pages", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["segment"] = lambda value: quote(str(value), safe="")
_env.filters["when"] = when
_env.filters["requirement"] = requirement


class _PagePath(Convertor[str]):
    """Any path outside the API prefixes, so the HTML 404 never shadows an API route."""

    regex = r"(?!(?:api|endpoints|_local)(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("craft_page_path", _PagePath())

router = APIRouter()
#: Page routes answer HEAD too, so the catch-all below never takes a HEAD of a real page.
_READ = ["GET", "HEAD"]
_Platform = Annotated[Platform, Depends(get_platform)]


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(**context), status_code=status_code)


def _newest(executions: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``executions`` to list (newest first, at most :data:`MAX_LISTED`) and their ``total``."""
    return {"executions": executions[::-1][:MAX_LISTED], "total": len(executions)}


def _not_found(what: str) -> HTMLResponse:
    return _page("not_found.html", 404, what=what)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.api_route("/", methods=_READ, response_class=HTMLResponse)
def overview(platform: _Platform) -> HTMLResponse:
    return _lists(platform, pipelines=True, deployments=True)


@router.api_route("/pipelines", methods=_READ, response_class=HTMLResponse)
def pipelines(platform: _Platform) -> HTMLResponse:
    return _lists(platform, pipelines=True, deployments=False)


@router.api_route("/deployments", methods=_READ, response_class=HTMLResponse)
def deployments(platform: _Platform) -> HTMLResponse:
    return _lists(platform, pipelines=False, deployments=True)


def _lists(platform: Platform, *, pipelines: bool, deployments: bool) -> HTMLResponse:
    store = platform.store
    return _page(
        "lists.html",
        pipelines=[
            p["parameters"] | {"created_at": p["created_at"]} for p in store.list_pipelines()
        ]
        if pipelines
        else None,
        deployments=[deployment_page(d) for d in store.list_deployments()] if deployments else None,
        counts=store.count_by_status(),
    )


@router.api_route("/pipelines/{name}", methods=_READ, response_class=HTMLResponse)
def pipeline(name: str, platform: _Platform) -> HTMLResponse:
    record = platform.store.get_pipeline(name)
    if record is None:
        return _not_found(f"pipeline {name}")
    executions = platform.store.list_executions(name)
    return _page(
        "pipeline.html",
        pipeline=record["parameters"],
        created_at=record["created_at"],
        deployments=[deployment_page(d) for d in platform.store.list_deployments(name)],
        **_newest(executions),
    )


@router.api_route("/deployments/{name}", methods=_READ, response_class=HTMLResponse)
def deployment(name: str, platform: _Platform) -> HTMLResponse:
    record = platform.store.get_deployment(name)
    if record is None:
        return _not_found(f"deployment {name}")
    executions = platform.store.list_deployment_executions(name)
    schedule = None
    if record["execution_rule"] == "periodic" and platform.scheduler is not None:
        ticks = platform.store.ticks(name)
        schedule = schedule_page(
            record,
            platform.scheduler.now_iso(),
            platform.scheduler.frozen,
            ticks[-1] if ticks else None,
        )
    return _page(
        "deployment.html",
        deployment=deployment_page(record),
        schedule=schedule,
        **_newest(executions),
    )


@router.api_route("/executions/{execution_id}", methods=_READ, response_class=HTMLResponse)
def execution(execution_id: str, platform: _Platform) -> HTMLResponse:
    record = platform.store.get_execution(execution_id)
    if record is None:
        return _not_found(f"execution {execution_id}")
    return _page("execution.html", **execution_page(record, platform.store.logs(execution_id)))


@router.api_route(
    "/executions/{execution_id}/{kind}/{name}/file", methods=_READ, response_model=None
)
def download(execution_id: str, kind: str, name: str, platform: _Platform) -> Response:
    """The file of an input (``kind`` ``inputs``) or of a succeeded execution's output."""
    record = platform.store.get_execution(execution_id)
    what = f"file {kind[:-1]} {name} of execution {execution_id}"
    if record is None or kind not in ("inputs", "outputs"):
        return _not_found(what)
    if kind == "outputs" and record["status"] != "Succeeded":
        return _not_found(what)
    key = f"pipeline_{kind[:-1]}_name"
    item = next((i for i in record[kind] if i[key] == name and "_file" in i), None)
    if item is None:
        return _not_found(what)
    rel = Path(item["_file"])
    return FileResponse(
        platform.store.execution_dir(execution_id) / rel,
        media_type="application/octet-stream",
        filename=rel.name,
    )


@router.api_route(
    "/{path:craft_page_path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
    response_model=None,
)
def unknown_page(path: str, request: Request) -> Response:
    """An HTML 404 for a browser asking for a page; the platform's JSON 404 otherwise."""
    if request.method in ("GET", "HEAD") and _wants_html(request):
        return _not_found(f"page /{path}")
    raise StarletteHTTPException(404)
