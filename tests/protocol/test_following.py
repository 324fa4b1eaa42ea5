"""craft_airflow.protocol.following: the live follower driven by hand against a scripted
platform whose execution prints lines over time (``from`` / ``limit`` honoured, §5.7)."""

from __future__ import annotations

import json

from protocol_kit import answer, context, make_jwt
from test_logs import stamp

from craft_airflow.errors import CraftAPIError
from craft_airflow.protocol.following import (
    Following,
    SaveCursor,
    Show,
    follow_steps,
    tick_steps,
)
from craft_airflow.protocol.http import Sleep
from craft_airflow.protocol.logs import LogCursor


class Platform:
    """An execution whose status and lines ``[(epoch ms, message)]`` the test changes."""

    def __init__(self) -> None:
        self.status = "Pending"
        self.lines: list[tuple[int, str]] = []
        self.calls: list[str] = []
        self.fail_logs = False

    def __call__(self, step):
        if step.request.url.endswith("/logs"):
            self.calls.append("logs")
            if self.fail_logs:
                return answer(500, b'{"message": "logs are down"}')
            body = step.request.json
            chosen = [(ms, m) for ms, m in self.lines if ms >= body.get("from", 0)]
            chosen = chosen[: body["limit"]]
            page = [{"timestamp": stamp(ms), "message": m} for ms, m in chosen]
            return answer(200, json.dumps([page]).encode())
        self.calls.append("status")
        return answer(200, json.dumps({"status": self.status}).encode())


def run(gen, platform, clock, *, ticks):
    """Drive ``gen`` for ``ticks`` sleeps; the shown lines' messages and the other steps."""
    shown, other = [], []
    value = None
    while ticks:
        step = gen.send(value)
        value = None
        if isinstance(step, Show):
            shown.append(step.message % step.args)
        elif isinstance(step, Sleep):
            clock.now += step.seconds
            other.append(step)
            if step.seconds >= 1:
                ticks -= 1
        elif isinstance(step, SaveCursor):
            other.append(step)
        else:
            value = platform(step)
    return shown, other


def setup():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    return ctx, clock, Platform(), Following("e")


def test_status_changes_then_lines_in_order_each_once_with_the_craft_prefix():
    ctx, clock, platform, state = setup()
    gen = follow_steps(ctx, state, interval=3, page_lines=2, save_every=None)
    shown, _ = run(gen, platform, clock, ticks=1)
    assert shown == ["Craft AI execution e is Pending"]
    assert platform.calls == ["status"]  # no logs read while pending
    platform.status = "Running"
    platform.lines += [(1_000, "a"), (1_000, "b"), (1_001, "c")]
    shown, _ = run(gen, platform, clock, ticks=1)
    assert shown[0] == "Craft AI execution e: Pending -> Running after 3 s"
    assert shown[1:] == [f"[craft] {stamp(ms)} {m}" for ms, m in platform.lines]
    platform.lines += [(1_001, "d"), (1_005, "e")]  # one more in the last line's millisecond
    platform.calls.clear()
    shown, _ = run(gen, platform, clock, ticks=1)
    assert shown == [f"[craft] {stamp(1_001)} d", f"[craft] {stamp(1_005)} e"]
    assert "status" not in platform.calls  # once running, the wait sees the end
    assert state.cursor == LogCursor(1_005, 1, 5)


def test_the_cursor_moves_line_by_line_so_a_stop_mid_page_loses_nothing():
    ctx, _clock, platform, state = setup()
    platform.status = "Running"
    platform.lines = [(1_000 + i, f"line {i}") for i in range(5)]
    gen = tick_steps(ctx, state)
    value, shown = None, 0
    while shown < 2:
        step = gen.send(value)
        value = None
        if isinstance(step, Show) and step.args[1].startswith("line"):
            shown += 1
        elif not isinstance(step, Show):
            value = platform(step)
    gen.close()  # stopped after showing "line 1", before the cursor took it
    assert state.cursor.shown == 1 and state.cursor.since_ms == 1_000
    # The end reads from the cursor: "line 1" is shown again (one repeat at most), none lost.
    assert [
        line["message"]
        for line in state.cursor.unseen(
            [{"timestamp": stamp(ms), "message": m} for ms, m in platform.lines]
        )
    ] == [f"line {i}" for i in range(1, 5)]


def test_a_failing_read_is_said_once_and_following_goes_on():
    ctx, clock, platform, state = setup()
    platform.status = "Running"
    platform.fail_logs = True
    gen = follow_steps(ctx, state, interval=3, save_every=None)
    shown, _ = run(gen, platform, clock, ticks=3)
    warnings = [s for s in shown if s.startswith("Live logs of Craft AI execution e")]
    assert len(warnings) == 1 and "logs are down" in warnings[0]
    platform.fail_logs = False
    platform.lines = [(1_000, "back")]
    shown, _ = run(gen, platform, clock, ticks=1)
    assert shown == [f"[craft] {stamp(1_000)} back"]


def test_a_late_tick_is_said_once_with_what_to_do():
    ctx, clock, platform, state = setup()
    platform.status = "Running"
    gen = follow_steps(ctx, state, interval=3, save_every=None)
    shown, _ = run(gen, platform, clock, ticks=2)  # ends in a sleep, on time
    clock.now += 4.9  # the loop stalled during that sleep: not yet behind
    shown, _ = run(gen, platform, clock, ticks=1)
    assert not [s for s in shown if "behind" in s]
    said = []
    for _ in range(2):  # then stalled 7 s during each of the next two sleeps
        clock.now += 7
        shown, _ = run(gen, platform, clock, ticks=1)
        said += [s for s in shown if "behind" in s]
    assert said == [
        "Live logs of Craft AI execution e are 7 s behind: this process follows more"
        " than it can keep up with (raise live_logs_interval, or set live_logs=False"
        " for large fan-outs)"
    ]


def test_a_moved_cursor_is_saved_at_most_every_save_every_seconds():
    ctx, clock, platform, state = setup()
    platform.status = "Running"
    gen = follow_steps(ctx, state, interval=3, save_every=10)
    saves = []
    for tick in range(8):
        platform.lines.append((1_000 + tick, f"line {tick}"))
        _, other = run(gen, platform, clock, ticks=1)
        saves += [s.cursor for s in other if isinstance(s, SaveCursor)]
    assert 1 <= len(saves) <= 3
    assert saves[-1].shown <= state.cursor.shown


def test_cursor_kwargs_round_trip_and_bad_values_start_over():
    cursor = LogCursor(1_000, 2, 7)
    assert LogCursor.from_kwargs(json.loads(json.dumps(cursor.to_kwargs()))) == cursor
    assert LogCursor.from_kwargs({"since_ms": "x"}) is None
    assert LogCursor.from_kwargs(None) is None
    assert LogCursor(5, 1).later(LogCursor(5, 3)) == LogCursor(5, 3)
    assert LogCursor(9, 1).later(LogCursor(5, 3)) == LogCursor(9, 1)


def test_a_read_error_is_a_craft_error_the_follower_catches():
    ctx, clock, platform, state = setup()
    platform.status = "Running"
    platform.fail_logs = True
    gen = tick_steps(ctx, state)
    value = None
    try:
        while True:
            step = gen.send(value)
            value = None if isinstance(step, Show | Sleep) else platform(step)
            if isinstance(step, Sleep):
                clock.now += step.seconds
    except CraftAPIError as err:
        assert "logs are down" in str(err)
