"""Request bodies: JSON, form-urlencoded and multipart fields, and uploaded files saved to disk."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from craft_local import jsontext
from craft_local.errors import PlatformError, bad_request
from craft_local.limits import too_large
from craft_local.pipelines import MAX_FORM_FIELDS

_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
JSON = "application/json"


def documented_body(properties: dict[str, Any] | None = None, *media: str) -> dict[str, Any]:
    """``openapi_extra`` of a route reading its body with :func:`read_body`: an object of
    ``properties`` as each of ``media`` (default: JSON)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties or {}}
    return {"requestBody": {"content": {m: {"schema": schema} for m in media or (JSON,)}}}


def media_type(request: Request) -> str:
    """The declared media type of the body, lower case, without parameters (``""``: none)."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def is_json_type(media: str) -> bool:
    """``application/json`` or a ``+json`` type."""
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


def is_form(request: Request) -> bool:
    """Whether ``request`` declares a form (multipart or urlencoded) rather than JSON."""
    return media_type(request) in (MULTIPART, URLENCODED)


def _max_text_bytes(request: Request) -> int:
    limit: int = request.app.state.platform.config.max_json_bytes
    return limit


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The body, refused with a 413 as soon as it passes ``max_bytes`` (before any parsing)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes, "JSON and form-urlencoded bodies")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes, "JSON and form-urlencoded bodies")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # starlette reads a form from the cached body
    return body


async def read_body(request: Request) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    """Text fields and file parts of a body, parsed only as its declared content type.

    JSON (``application/json``) and urlencoded bodies are read up to ``--max-json-bytes``
    before parsing (413 above), JSON strictly (:mod:`craft_local.jsontext`); multipart bodies
    are streamed (files to disk, text parts up to 1 MB each). An empty body is no field; a body
    of any other declared type is a 415.
    """
    media = media_type(request)
    if media == MULTIPART:
        fields, files = await _form(request)
        for key in fields:
            _check_field_name(key)
        return fields, files
    raw = await read_limited(request, _max_text_bytes(request))
    if not raw.strip():
        return {}, {}
    if media == URLENCODED:
        fields, _ = await _form(request)
        for key in fields:
            _check_field_name(key)
        return fields, {}
    if not is_json_type(media):
        raise PlatformError(
            415,
            "UnsupportedMediaType",
            f"The request body is declared as {media or 'nothing (no Content-Type)'!r}; this"
            f" route reads {JSON}, {MULTIPART} or {URLENCODED}.",
        )
    body = jsontext.loads(raw)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body, {}


async def _form(request: Request) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    try:
        form = await request.form(max_files=1000, max_fields=MAX_FORM_FIELDS)
    except MultiPartException as exc:
        raise bad_request(f"Malformed form body: {exc.message}.", name="InvalidForm") from None
    except AssertionError:  # python-multipart on a body that breaks its parser's invariants
        raise bad_request("Malformed form body.", name="InvalidForm") from None
    fields: dict[str, Any] = {}
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            files[key] = value
        else:
            fields[key] = value
    return fields, files


def _check_field_name(key: str) -> None:
    # Flattened keys (a[b][c]) nest once per part: bounded as JSON nesting is.
    if key.count("[") > jsontext.MAX_JSON_DEPTH:
        raise bad_request(
            f"Form field {key[:60]!r}… nests deeper than {jsontext.MAX_JSON_DEPTH} levels.",
            name=jsontext.TOO_DEEP,
        )


def json_field(fields: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    """A field holding JSON text (form) or a JSON value (JSON body)."""
    if key not in fields or fields[key] in ("", None):
        return default
    value = fields[key]
    if isinstance(value, str):
        value = jsontext.loads(value, f"'{key}'")
    if not isinstance(value, kind):
        raise bad_request(f"'{key}' must be a JSON {'object' if kind is dict else 'array'}.")
    return value


def decode_form_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Endpoint form parts carry JSON-encoded values (a string arrives as ``"\\"x\\""``); a part
    that is not JSON is kept as its text; JSON that can not be stored is a 400."""
    decoded = {}
    for key, value in fields.items():
        try:
            decoded[key] = jsontext.loads(value, f"Field '{key}'")
        except PlatformError as exc:
            if exc.name != jsontext.NOT_JSON:
                raise
            decoded[key] = value  # NaN stays text too: a number input then refuses it
    return decoded


def _safe_name(filename: str | None, fallback: str) -> str:
    base = Path(filename or "").name
    base = _SAFE_FILENAME.sub("_", base).strip("._") or fallback
    return base[:120]


def write_upload(upload: UploadFile, target: Path) -> None:
    """Copy an uploaded file to ``target`` (blocking: call it in a thread)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    upload.file.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(upload.file, out)


async def save_uploads(uploads: dict[str, UploadFile], exec_dir: Path) -> dict[str, str]:
    """Copy file parts under ``exec_dir/inputs/<name>/``; return name -> relative path."""
    saved = {}
    for name, upload in uploads.items():
        rel = Path("inputs") / _safe_name(name, "input") / _safe_name(upload.filename, "file")
        await run_in_threadpool(write_upload, upload, exec_dir / rel)
        saved[name] = str(rel)
    return saved
