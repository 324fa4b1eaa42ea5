"""Following a running execution while a wait holds its long-poll: its status changes and its
new log lines, as a generator of steps (no I/O) that a transport drives beside the wait
(:func:`~craft_airflow.protocol.waiting.execution_outcome_steps`).

Every ``interval`` seconds one tick: while the execution is not known to run, one status call
(§5.3), a change logged as ``Pending -> Running after 12 s``; once it runs (or when its status
cannot be read), the log lines after the :class:`~craft_airflow.protocol.logs.LogCursor`, a page
of ``limit`` lines at a time (§5.7), each shown with the ``[craft]`` prefix as the end's copy
shows them. The cursor moves line by line, after the line is shown: wherever the transport stops
the follower, :attr:`Following.cursor` is what was shown, and the end copies only the lines after
it. A failed read is said once and tried again at the next tick: following never fails a wait.
A tick that comes :data:`LATE_AFTER` seconds late (the process shares its loop with more
followers than it can serve) is said once too.

The follower asks the transport to save the cursor (:class:`SaveCursor`) at most every
``save_every`` seconds when it moved, so that a triggerer restart or a retry resumes near where
the reading stopped (``docs/operators/live-logs.md`` says how many lines can repeat).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from craft_airflow.errors import CraftError
from craft_airflow.protocol.builders import build_get_execution
from craft_airflow.protocol.calls import CallContext, call_json
from craft_airflow.protocol.config import DEFAULT_LIVE_LOGS_INTERVAL
from craft_airflow.protocol.http import Send, Sleep
from craft_airflow.protocol.logs import LogCursor, log_page_steps
from craft_airflow.protocol.readers import read_execution
from craft_airflow.protocol.statuses import ExecutionStatus

#: Seconds between two ticks when neither the task nor the connection sets one.
DEFAULT_INTERVAL = DEFAULT_LIVE_LOGS_INTERVAL
#: Lines asked for per logs call of a tick (a tick reads pages until one comes back short).
LIVE_PAGE_LINES = 500
#: Pages one tick reads at most (a chatty execution catches up over the next ticks).
MAX_TICK_PAGES = 20
#: Seconds between two saves of a moved cursor.
SAVE_EVERY = 30.0
#: Seconds a tick may come later than its interval before the task log says live logs are
#: behind: the promise is a line within 5 s (one interval plus one logs call).
LATE_AFTER = 5.0
#: The ``[craft]`` line of one log line, as the end's copy writes it (``ending.copy_logs_steps``).
LINE_FORMAT = "[craft] %s %s"


@dataclass(frozen=True)
class Show:
    """Step: write one line to the task's log (``logging`` level, message, arguments); the
    transport answers ``None``."""

    level: int
    message: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SaveCursor:
    """Step: keep the cursor where a restart or a retry reads it back (best effort); the
    transport answers ``None``."""

    cursor: LogCursor


FollowStep = Send | Sleep | Show | SaveCursor
FollowSteps = Generator[FollowStep, Any, None]


@dataclass
class Following:
    """The state of one follower, read by the transport when the wait ends.

    :param execution_id: the execution followed.
    :param cursor: the last log line shown (moves line by line).
    :param status: the platform status last seen (``None``: not read yet).
    :param status_seen_at: ``clock()`` when that status was first seen.
    """

    execution_id: str
    cursor: LogCursor = field(default_factory=LogCursor)
    status: str | None = None
    status_seen_at: float | None = None

    def status_change(self, status: str | None, now: float) -> Show | None:
        """The line saying the status changed to ``status`` (``None`` if it did not), and the
        state moved on to it."""
        if status is None or status == self.status:
            return None
        before, since = self.status, self.status_seen_at
        self.status, self.status_seen_at = status, now
        if before is None or since is None:
            return Show(logging.INFO, "Craft AI execution %s is %s", (self.execution_id, status))
        return Show(
            logging.INFO,
            "Craft AI execution %s: %s -> %s after %.0f s",
            (self.execution_id, before, status, now - since),
        )

    def reads_logs(self) -> bool:
        """Whether a tick reads the logs: not while the execution is known to be pending."""
        return self.status != ExecutionStatus.PENDING

    def reads_status(self) -> bool:
        """Whether a tick reads the status: until the execution is seen running (the wait sees
        the end)."""
        return self.status != ExecutionStatus.RUNNING


def line_step(line: Mapping[str, Any]) -> Show:
    """The task-log line of one execution log line."""
    return Show(logging.INFO, LINE_FORMAT, (line.get("timestamp", ""), line.get("message", "")))


def new_lines_steps(
    ctx: CallContext,
    state: Following,
    *,
    page_lines: int = LIVE_PAGE_LINES,
    max_pages: int = MAX_TICK_PAGES,
) -> Generator[FollowStep, Any, None]:
    """Show the lines after ``state.cursor``, moving it line by line."""
    for _ in range(max_pages):
        new, _, full = yield from log_page_steps(
            ctx, state.execution_id, state.cursor, page_lines=page_lines
        )
        for line in new:
            yield line_step(line)
            state.cursor = state.cursor.after([line])
        if not full:
            return


def tick_steps(
    ctx: CallContext, state: Following, *, page_lines: int = LIVE_PAGE_LINES
) -> Generator[FollowStep, Any, None]:
    """One tick: the status while the execution is not known to run (a change is shown), then
    the new log lines unless it is known to be pending.

    :raises CraftError: a read failed (the lines shown until then are in the cursor).
    """
    if state.reads_status():
        request = build_get_execution(ctx.config, state.execution_id)
        execution = read_execution((yield from call_json(ctx, request)))
        change = state.status_change(_status_text(execution), ctx.clock())
        if change is not None:
            yield change
    if state.reads_logs():
        yield from new_lines_steps(ctx, state, page_lines=page_lines)


def follow_steps(
    ctx: CallContext,
    state: Following,
    *,
    interval: float = DEFAULT_INTERVAL,
    page_lines: int = LIVE_PAGE_LINES,
    save_every: float | None = SAVE_EVERY,
) -> FollowSteps:
    """Follow the execution, a tick every ``interval`` seconds, until the transport stops
    driving this generator (it never returns by itself).

    :param interval: seconds between two ticks.
    :param page_lines: lines asked for per logs call.
    :param save_every: seconds between two :class:`SaveCursor` steps of a moved cursor
        (``None``: never saved).
    """
    failing = late_said = False
    saved, saved_at = state.cursor, ctx.clock()
    while True:
        began = ctx.clock()
        try:
            yield from tick_steps(ctx, state, page_lines=page_lines)
            failing = False
        except CraftError as err:
            if not failing:
                yield Show(
                    logging.WARNING,
                    "Live logs of Craft AI execution %s: %s (trying again every %.0f s)",
                    (state.execution_id, err, interval),
                )
            failing = True
        now = ctx.clock()
        if save_every is not None and state.cursor != saved and now - saved_at >= save_every:
            yield SaveCursor(state.cursor)
            saved, saved_at = state.cursor, now
        yield Sleep(interval)
        late = ctx.clock() - began - interval
        if late >= LATE_AFTER and not late_said:
            # Said once: the lines still come, later; every follower of a loaded process says it.
            yield Show(
                logging.WARNING,
                "Live logs of Craft AI execution %s are %.0f s behind: this process follows more"
                " than it can keep up with (raise live_logs_interval, or set live_logs=False"
                " for large fan-outs)",
                (state.execution_id, late),
            )
            late_said = True


def _status_text(execution: Mapping[str, Any]) -> str | None:
    status = execution.get("status")
    return status if isinstance(status, str) and status else None
