"""The data store: the ``/api/v1/data-store`` calls, and the signed URLs they hand out."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from craft_local.bodies import MULTIPART, documented_body, read_body, write_upload
from craft_local.downloads import file_response
from craft_local.errors import bad_request, not_found
from craft_local.routers.auth import require_bearer
from craft_local.state import PlatformDep

router = APIRouter(prefix="/api/v1/data-store", dependencies=[Depends(require_bearer)])
#: The signed URLs: the signature is the credential (§8).
signed_router = APIRouter(prefix="/_local/data-store")


def _xml_error(status: int, code: str, message: str) -> Response:
    """Signed-URL errors come as S3-style XML (§8)."""
    body = f"<Error><Code>{code}</Code><Message>{html.escape(message)}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")


def _object_path(fields: dict[str, Any]) -> str:
    return str(fields.get("path_to_object") or "")


@router.get("/list")
async def list_objects(platform: PlatformDep, folder_path: str = "") -> dict[str, Any]:
    items = await run_in_threadpool(platform.datastore.list, folder_path or None)
    return {"items": items, "continuation_token": None}


@router.post("/information", openapi_extra=documented_body({"path_to_object": {"type": "string"}}))
async def information(request: Request, platform: PlatformDep) -> dict[str, Any]:
    fields, _ = await read_body(request)
    path = _object_path(fields)
    info = platform.datastore.info(path)
    if info is None:
        raise not_found("Object", path)
    return info


@router.get("/upload")
async def upload_url(
    request: Request, platform: PlatformDep, path_to_object: str
) -> dict[str, Any]:
    fields = platform.datastore.presigned_fields("upload", path_to_object)
    base = str(request.base_url).rstrip("/")
    return {"signed_url": f"{base}{signed_router.prefix}/upload", "fields": fields}


@router.post("/download", openapi_extra=documented_body({"path_to_object": {"type": "string"}}))
async def download_url(request: Request, platform: PlatformDep) -> dict[str, Any]:
    fields, _ = await read_body(request)
    path = _object_path(fields)
    datastore = platform.datastore
    if datastore.info(path) is None:
        raise not_found("Object", path)
    base = str(request.base_url).rstrip("/")
    query = datastore.download_query(path)
    return {"signed_url": f"{base}{signed_router.prefix}/object?{query}"}


@router.delete("/delete", openapi_extra=documented_body({"path_to_object": {"type": "string"}}))
async def delete_object(request: Request, platform: PlatformDep) -> dict[str, Any]:
    fields, _ = await read_body(request)
    path = _object_path(fields)
    file = platform.datastore.path(path)
    if not file.is_file():
        raise not_found("Object", path)
    file.unlink()
    return {"path": path}


@router.post("/upload/multipart")
async def multipart_upload() -> None:
    raise bad_request(
        "Multipart uploads (objects of 100 MB or more) are not supported by the embedded platform.",
        name="NotSupported",
    )


@signed_router.post(
    "/upload",
    openapi_extra=documented_body(
        {"key": {"type": "string"}, "file": {"type": "string", "format": "binary"}}, MULTIPART
    ),
)
async def signed_upload(request: Request, platform: PlatformDep) -> Response:
    fields, files = await read_body(request)
    datastore = platform.datastore
    try:
        path = datastore.check("upload", fields)
    except PermissionError as exc:
        return _xml_error(403, "AccessDenied", str(exc))
    upload = files.get("file")
    if upload is None:
        return _xml_error(400, "InvalidArgument", "missing 'file' part")
    await run_in_threadpool(write_upload, upload, datastore.path(path))
    return Response(status_code=204)


@signed_router.get("/object")
async def signed_download(request: Request, platform: PlatformDep) -> Response:
    datastore = platform.datastore
    try:
        path = datastore.check("download", dict(request.query_params))
    except PermissionError as exc:
        return _xml_error(403, "AccessDenied", str(exc))
    file = datastore.path(path)
    if not file.is_file():
        return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
    return file_response(file, file.name)
