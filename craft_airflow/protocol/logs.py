"""Reading an execution's logs in pages (§5.7), as generators of steps (no I/O).

One logs call answers every line at once, however many: a long or chatty execution (or a
hostile server) makes one answer as large as its whole log. Here the lines are asked for
``limit`` at a time, the next page ``from`` the last line's millisecond, skipping the lines of
that millisecond already read; each answer is read within the connection's size bound. Where a
reading stopped is a :class:`LogCursor`: the live reading of a running execution
(:mod:`craft_airflow.protocol.following`) and the copy at the end (:func:`log_lines_steps`)
carry it from one to the other, so the end copies only the lines not yet shown. At most
``max_lines`` lines are kept by a copy (the last ones: a failure is explained at the end), and a
first line says what was left out.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LogCursor:
    """Where a reading of the logs stopped: the millisecond of the last line read and how many
    lines of that millisecond were read. The next read asks ``from`` that millisecond and skips
    those lines (a line written later in the same millisecond is still read).

    :param since_ms: epoch milliseconds of the last line read; ``None``: nothing read yet.
    :param seen: lines of millisecond ``since_ms`` already read.
    :param shown: lines read in all (for messages only).
    """

    since_ms: int | None = None
    seen: int = 0
    shown: int = 0

    def to_kwargs(self) -> dict[str, int | None]:
        """JSON-serialisable (trigger kwargs, the trigger event, the task state)."""
        return {"since_ms": self.since_ms, "seen": self.seen, "shown": self.shown}

    @classmethod
    def from_kwargs(cls, data: Any) -> LogCursor | None:
        """The cursor :meth:`to_kwargs` gave, ``None`` for anything else (an old or foreign
        value: the reading then starts at the first line)."""
        if not isinstance(data, Mapping):
            return None
        since, seen, shown = data.get("since_ms"), data.get("seen", 0), data.get("shown", 0)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seen, shown)):
            return None
        if since is not None and (not isinstance(since, int) or isinstance(since, bool)):
            return None
        return cls(since, max(0, seen), max(0, shown))

    def kept(self, execution_id: str) -> dict[str, Any]:
        """The value kept between tries and triggerer restarts (XCom ``craft_log_cursor``, the
        task state): the cursor and the execution it reads."""
        return {"execution_id": execution_id, **self.to_kwargs()}

    @classmethod
    def from_kept(cls, value: Any, execution_id: str) -> LogCursor | None:
        """The cursor :meth:`kept` gave for ``execution_id``; ``None`` for another execution's
        (an earlier try that started its own) or anything else."""
        if isinstance(value, str):  # an XCom read back as its JSON text
            try:
                value = json.loads(value)
            except ValueError:
                return None
        if not isinstance(value, Mapping) or value.get("execution_id") != execution_id:
            return None
        return cls.from_kwargs(value)

    def later(self, other: LogCursor | None) -> LogCursor:
        """The cursor further on of the two (a saved one may be behind the carried one)."""
        if other is None or other.since_ms is None:
            return self
        if self.since_ms is None:
            return other
        return max(self, other, key=lambda c: (c.since_ms or 0, c.seen))

    def request_limit(self, page_lines: int) -> int:
        """The ``limit`` of the next read: a page plus the lines to skip."""
        return page_lines + self.seen

    def unseen(self, page: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The lines of ``page`` (an answer ``from`` :attr:`since_ms`) not read before: later
        milliseconds, and in :attr:`since_ms` those after the first :attr:`seen`. A line
        without a readable time counts as being in the millisecond before it. A platform that
        ignores ``from`` answers earlier lines too: they are dropped."""
        if self.since_ms is None:
            return list(page)
        fresh: list[Mapping[str, Any]] = []
        at_since = 0
        current = self.since_ms
        for line in page:
            current = epoch_ms(line.get("timestamp")) or current
            if current < self.since_ms:
                continue
            if current == self.since_ms:
                at_since += 1
                if at_since <= self.seen:
                    continue
            fresh.append(line)
        return fresh

    def after(self, lines: list[Mapping[str, Any]]) -> LogCursor:
        """The cursor once ``lines`` (the :meth:`unseen` lines of a read) are read too."""
        if not lines:
            return self
        since, seen = self.since_ms, self.seen
        for line in lines:
            ms = epoch_ms(line.get("timestamp"))
            if ms is None:
                ms = since
            if ms is None:
                continue
            if ms == since:
                seen += 1
            else:
                since, seen = ms, 1
        return LogCursor(since, seen, self.shown + len(lines))


def log_page_steps(
    ctx: CallContext, execution_id: str, cursor: LogCursor, *, page_lines: int = LOG_PAGE_LINES
) -> Steps[tuple[list[Mapping[str, Any]], LogCursor, bool]]:
    """One logs call after ``cursor``: the new lines, the cursor after them, and whether the
    log may go on past this page (the page came back full)."""
    limit = cursor.request_limit(page_lines)
    request = build_get_logs(ctx.config, execution_id, from_ms=cursor.since_ms, limit=limit)
    page = read_logs((yield from call_json(ctx, request)))
    new = cursor.unseen(page)
    full = len(page) >= limit and bool(new)
    return new, cursor.after(new), full


def log_lines_steps(
    ctx: CallContext,
    execution_id: str,
    *,
    after: LogCursor | None = None,
    max_lines: int = MAX_LOG_LINES,
    max_pages: int = MAX_LOG_PAGES,
    page_lines: int = LOG_PAGE_LINES,
) -> Steps[list[dict[str, Any]]]:
    """The execution's log lines ``[{timestamp, message}]``, oldest first, read in pages.

    :param after: read only the lines after this cursor (those a live reading showed are not
        read again); ``None``: from the first line.
    :param max_lines: lines kept (the last ones); with more, a first line says how many were
        left out.
    :param max_pages: logs calls made at most; when the log goes on, a last line says so.
    :param page_lines: lines asked for per call.
    """
    kept: deque[Mapping[str, Any]] = deque(maxlen=max_lines)
    cursor = after or LogCursor()
    seen = 0
    complete = False
    for _ in range(max_pages):
        new, moved, full = yield from log_page_steps(
            ctx, execution_id, cursor, page_lines=page_lines
        )
        kept.extend(new)
        seen += len(new)
        if not full:
            complete = True  # the last page (or a platform ignoring the bounds)
            break
        if moved.since_ms is None or moved.seen > 10 * page_lines:
            break  # no time to page from, or one millisecond holding more than pages step over
        cursor = moved
    lines = [dict(line) for line in kept]
    if seen > len(kept):
        lines.insert(0, note_line(f"{seen - len(kept)} earlier log lines left out"))
    if not complete:
        lines.append(note_line(f"the log goes on; reading stopped after {seen} lines"))
    return lines
