"""Reading an execution's logs in pages (§5.7), as a generator of steps (no I/O).

One logs call answers every line at once, however many: a long or chatty execution (or a
hostile server) makes one answer as large as its whole log. Here the lines are asked for
``limit`` at a time, the next page ``from`` the last line's millisecond, skipping the lines of
that millisecond already read; each answer is read within the connection's size bound. At most
``max_lines`` lines are kept (the last ones: a failure is explained at the end), and a first
line says what was left out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from craft_airflow.protocol.builders import build_get_logs
from craft_airflow.protocol.calls import CallContext, Steps, call_json
from craft_airflow.protocol.readers import read_logs

#: Lines asked for per logs call.
LOG_PAGE_LINES = 1000
#: Lines kept by one read of the logs (the last ones).
MAX_LOG_LINES = 50_000
#: Logs calls one read makes at most.
MAX_LOG_PAGES = 200

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(timestamp: Any) -> int | None:
    """A line's ISO-8601 timestamp as integer epoch milliseconds (UTC when no zone), exactly
    (no float rounding); ``None`` when it is not one."""
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MILLISECOND


def note_line(text: str) -> dict[str, str]:
    """A line the provider adds to say what it left out."""
    return {"timestamp": "", "message": f"[craft-airflow] {text}"}


def log_lines_steps(
    ctx: CallContext,
    execution_id: str,
    *,
    max_lines: int = MAX_LOG_LINES,
    max_pages: int = MAX_LOG_PAGES,
    page_lines: int = LOG_PAGE_LINES,
) -> Steps[list[dict[str, Any]]]:
    """The execution's log lines ``[{timestamp, message}]``, oldest first, read in pages.

    :param max_lines: lines kept (the last ones); with more, a first line says how many were
        left out.
    :param max_pages: logs calls made at most; when the log goes on, a last line says so.
    :param page_lines: lines asked for per call.
    """
    kept: deque[Mapping[str, Any]] = deque(maxlen=max_lines)
    seen = 0
    since: int | None = None
    skip = 0  # lines of millisecond ``since`` already read
    complete = False
    for _ in range(max_pages):
        limit = page_lines + skip
        request = build_get_logs(ctx.config, execution_id, from_ms=since, limit=limit)
        page = read_logs((yield from call_json(ctx, request)))
        if since is not None and page and (epoch_ms(page[0].get("timestamp")) or 0) < since:
            complete = True  # the platform ignores "from": the first page had every line
            break
        new = page[skip:]
        kept.extend(new)
        seen += len(new)
        if len(page) < limit or not new:
            complete = True  # the last page (or a platform ignoring the bounds)
            break
        boundary = epoch_ms(new[-1].get("timestamp"))
        if boundary is None:
            break  # no time to page from
        skip = sum(1 for line in page if epoch_ms(line.get("timestamp")) == boundary)
        since = boundary
        if skip > 10 * page_lines:
            break  # one millisecond holding more lines than pages can step over
    lines = [dict(line) for line in kept]
    if seen > len(kept):
        lines.insert(0, note_line(f"{seen - len(kept)} earlier log lines left out"))
    if not complete:
        lines.append(note_line(f"the log goes on; reading stopped after {seen} lines"))
    return lines
