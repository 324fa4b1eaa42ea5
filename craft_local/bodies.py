"""Request bodies: JSON, form-urlencoded and multipart fields, and uploaded files saved to disk."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from craft_local.errors import bad_request
from craft_local.pipelines import MAX_FORM_FIELDS

_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def is_form(request: Request) -> bool:
    """Whether ``request`` carries a form (multipart or urlencoded) rather than JSON."""
    return request.headers.get("content-type", "").startswith(_FORM_TYPES)


async def read_body(request: Request) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    """Text fields and file parts of a JSON, form-urlencoded or multipart body."""
    if is_form(request):
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


def json_field(fields: dict[str, Any], key: str, kind: type, default: Any) -> Any:
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


def decode_form_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Endpoint form parts carry JSON-encoded values (a string arrives as ``"\\"x\\""``); a part
    that is not JSON is kept as its text."""
    decoded = {}
    for key, value in fields.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
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
