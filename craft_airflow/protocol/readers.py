"""Readers: turn platform answers into Python values or :class:`CraftAPIError` (§1.3)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from craft_airflow.errors import CraftAPIError, CraftAuthError, clean

EXCERPT_CHARS = 200
_TAG = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.S | re.I)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line, redacted excerpt of a body (HTML tags stripped)."""
    text = html.unescape(_TAG.sub(" ", text))
    text = " ".join(text.split())
    # Before cutting: the error's own redaction cannot recognise half a secret.
    text = clean(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def details(additional_data: Any, message: str) -> str:
    """An error body's ``additional_data`` in words, for the end of ``message``: each
    ``key: value`` the message does not already say (``" (input name: x)"``), else ``""``."""
    if not additional_data:
        return ""
    if not isinstance(additional_data, Mapping):
        return f" ({json.dumps(additional_data, default=str)})"
    parts = []
    for key, value in additional_data.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if text and text not in message:
            parts.append(f"{str(key).replace('_', ' ')}: {text}")
    return f" ({'; '.join(parts)})" if parts else ""


def parse_error(
    status: int,
    body_text: str,
    content_type: str = "",
    *,
    operation: str = "",
) -> CraftAPIError:
    """Build the error for a >= 400 answer.

    A JSON body ``{message, name, request_id}`` gives the platform's words; anything else (an
    HTML proxy page, plain text) gives the status and a short sanitized excerpt.
    """
    prefix = f"{operation} failed: " if operation else ""
    payload: Any = None
    try:
        payload = json.loads(body_text) if body_text.strip() else None
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        payload = None
    cls = CraftAuthError if status in (401, 403) else CraftAPIError
    if isinstance(payload, Mapping) and any(k in payload for k in ("message", "name")):
        message = str(payload.get("message") or f"HTTP {status}")
        message += details(payload.get("additional_data"), message)
        name = payload.get("name")
        request_id = payload.get("request_id")
        # Every field comes from the answer, which may echo what was sent: the error redacts
        # them all.
        return cls(
            status,
            prefix + message,
            name=str(name) if name else None,
            request_id=str(request_id) if request_id else None,
        )
    hint = ""
    if status in (502, 503, 504):
        hint = " The platform (or a proxy in front of it) is unavailable; try again later."
    if body_text.strip():
        kind = content_type.split(";")[0].strip() or "no content type"
        detail = f"HTTP {status} with a non-JSON body ({kind}): {excerpt(body_text)}"
    else:
        detail = f"HTTP {status} with an empty body"
    return cls(status, prefix + detail + hint)


def decode_body(status: int, body: bytes, content_type: str, *, operation: str = "") -> Any:
    """§1.3 success decoding: 204 / ``OK`` -> None; octet-stream / csv -> bytes; else JSON."""
    if status == 204 or body.strip() == b"OK":
        return None
    lowered = content_type.lower()
    if "application/octet-stream" in lowered or "text/csv" in lowered:
        return body
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except RecursionError:
        raise CraftAPIError(
            status,
            f"{operation or 'request'}: the platform's answer is JSON nested too deep to read",
        ) from None
    except ValueError:
        raise CraftAPIError(
            status,
            f"{operation or 'request'}: could not decode the platform's answer as JSON: "
            f"{excerpt(body.decode('utf-8', 'replace'))}",
        ) from None


def _require_mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise CraftAPIError(None, f"Unexpected answer for {what}: expected a JSON object")
    return data


def read_access_token(data: Any) -> str:
    token = _require_mapping(data, "the token refresh").get("access_token")
    if not isinstance(token, str) or not token:
        raise CraftAPIError(None, "The token refresh answer has no access_token")
    return token


def read_execution_id(data: Any, headers: Mapping[str, str] | None = None) -> str:
    """Execution id from a creation answer: body ``execution_id``, else the
    ``Craft-Ai-Execution-Id`` header of platforms older than SDK 0.65 (§7.5)."""
    if isinstance(data, Mapping):
        value = data.get("execution_id")
        if isinstance(value, str) and value:
            return value
    for key, value in (headers or {}).items():
        if key.lower() == "craft-ai-execution-id" and value:
            return value
    raise CraftAPIError(None, "The platform accepted the request but returned no execution_id")


def read_outputs(data: Any) -> list[dict[str, Any]]:
    """§5.4 body -> the ``outputs`` list."""
    outputs = _require_mapping(data, "the outputs").get("outputs")
    if outputs is None:
        return []
    if not isinstance(outputs, list):
        raise CraftAPIError(None, "Unexpected outputs answer: 'outputs' is not a list")
    return [o for o in outputs if isinstance(o, dict)]


def read_logs(data: Any) -> list[dict[str, Any]]:
    """§5.7: the first inner list (one per step). A flat list is accepted as is."""
    if not isinstance(data, list) or not data:
        return []
    first = data[0]
    if isinstance(first, list):
        return [x for x in first if isinstance(x, dict)]
    return [x for x in data if isinstance(x, dict)]


def read_metrics(data: Any) -> tuple[list[dict[str, Any]], int]:
    """§9.1: a page of metrics ``{"metrics": [...], "total_count": n}`` -> (items, total)."""
    body = _require_mapping(data, "the metrics")
    items = body.get("metrics") or []
    total = body.get("total_count", len(items))
    if not isinstance(items, list) or isinstance(total, bool) or not isinstance(total, int):
        raise CraftAPIError(None, "Unexpected metrics answer: expected metrics and total_count")
    return [m for m in items if isinstance(m, dict) and isinstance(m.get("name"), str)], total


def read_execution(data: Any) -> dict[str, Any]:
    return dict(_require_mapping(data, "the execution"))


def read_list(data: Any, what: str) -> list[dict[str, Any]]:
    if data is None:
        return []
    if isinstance(data, Mapping):
        # Tolerate a wrapped list (e.g. {"executions": [...]}) should the platform paginate.
        for value in data.values():
            if isinstance(value, list):
                data = value
                break
    if not isinstance(data, list):
        raise CraftAPIError(None, f"Unexpected answer for {what}: expected a JSON array")
    return [x for x in data if isinstance(x, dict)]


def read_endpoint_results(data: Any) -> dict[str, Any]:
    """§7.2 final body -> ``{endpoint output name: raw value}``.

    Open question 5: the code reads ``outputs``, a docstring shows ``output``; both accepted.
    """
    body = _require_mapping(data, "the endpoint results")
    outputs = body.get("outputs", body.get("output"))
    if outputs is None:
        return {}
    if not isinstance(outputs, Mapping):
        raise CraftAPIError(None, "Unexpected endpoint results: 'outputs' is not an object")
    return dict(outputs)


@dataclass(frozen=True)
class EndpointOutput:
    """One unwrapped endpoint output: a value, a file URL to download, or nothing."""

    kind: Literal["value", "file", "none"]
    value: Any = None
    url: str | None = None


def unwrap_endpoint_output(raw: Any) -> EndpointOutput:
    """``{"value": v}`` -> value; ``{"url": u}`` -> file (``u`` not a string -> none); else raw."""
    if isinstance(raw, Mapping) and "value" in raw:
        return EndpointOutput("value", raw["value"])
    if isinstance(raw, Mapping) and "url" in raw:
        url = raw["url"]
        return EndpointOutput("file", url=url) if isinstance(url, str) else EndpointOutput("none")
    return EndpointOutput("value", raw)


def execution_error_message(execution: Mapping[str, Any]) -> str | None:
    """The ``error: {message}`` field the embedded platform adds (§12 q.8), if present."""
    error = execution.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str) and error:
        return error
    return None
