"""File downloads: execution files, endpoint file outputs, data-store objects."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse


def file_response(path: Path, filename: str) -> FileResponse:
    """``path`` as an ``application/octet-stream`` attachment named ``filename``."""
    return FileResponse(path, media_type="application/octet-stream", filename=filename)
