"""CRON schedules of periodic deployments (§6.5): checking them and finding the due tick.

Five fields (minute, hour, day of month, month, day of week), always in UTC. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadCronError, croniter

from craft_local.errors import bad_request

#: Missed ticks counted one by one up to this many; beyond it the count says "more than".
COUNT_LIMIT = 1000


def check_schedule(value: object) -> str:
    """Return ``value`` if it is a five-field CRON expression, else a 400 naming ``schedule``."""
    if not isinstance(value, str) or len(value.split()) != 5:
        raise bad_request(
            f"schedule must be a CRON expression of five fields (minute hour day-of-month"
            f" month day-of-week, UTC), got {value!r}.",
            name="InvalidSchedule",
        )
    try:
        croniter(value, datetime(2000, 1, 1, tzinfo=UTC))
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise bad_request(
            f"schedule {value!r} is not a valid CRON expression: {exc}", name="InvalidSchedule"
        ) from None
    return " ".join(value.split())


def human_readable(schedule: str) -> str:
    """A short text for ``human_readable_schedule``."""
    if schedule == "* * * * *":
        return "Every minute (UTC)"
    return f"At '{schedule}' (UTC)"


@dataclass(frozen=True)
class DueTick:
    """The tick to run now, and the earlier ones it replaces (missed, not run)."""

    tick: datetime
    missed: int
    missed_since: datetime | None

    def note(self) -> str:
        """What happened to the earlier ticks, for the trace; empty when none was missed."""
        if not self.missed:
            return ""
        count = f"more than {COUNT_LIMIT}" if self.missed > COUNT_LIMIT else str(self.missed)
        since = self.missed_since.isoformat() if self.missed_since else "?"
        return f"{count} earlier tick(s) since {since} not run (missed while not scheduling)"


def next_tick(schedule: str, now: datetime) -> datetime:
    """The first tick of ``schedule`` strictly after ``now`` (what a deployment's page shows)."""
    tick: datetime = croniter(schedule, now).get_next(datetime)
    return tick


def due_tick(schedule: str, after: datetime, now: datetime) -> DueTick | None:
    """The latest tick in ``(after, now]``, with how many earlier ones fall in that window.

    :param after: the last tick already claimed, or when the schedule started counting.
    """
    minute = now.replace(second=0, microsecond=0)
    latest: datetime = croniter(schedule, minute + timedelta(minutes=1)).get_prev(datetime)
    if latest <= after:
        return None
    walk = croniter(schedule, after)
    first: datetime = walk.get_next(datetime)
    missed = 0
    tick = first
    while tick < latest and missed <= COUNT_LIMIT:
        missed += 1
        tick = walk.get_next(datetime)
    return DueTick(latest, missed, first if missed else None)
