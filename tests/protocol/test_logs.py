"""Reading an execution's logs in pages (protocol/logs.py), driven by hand against a scripted
platform that honours ``from`` and ``limit`` as the contract says (§5.7)."""

from __future__ import annotations

import json

from protocol_kit import answer, context, drive, make_jwt

from craft_airflow.protocol.logs import epoch_ms, log_lines_steps


def stamp(ms: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def platform(lines):
    """A responder keeping ``lines`` ``[(epoch ms, message)]``; records each body it got."""
    bodies = []

    def respond(step):
        body = step.request.json
        bodies.append(body)
        chosen = [(ms, m) for ms, m in lines if "from" not in body or ms >= body["from"]]
        if "limit" in body:
            chosen = chosen[: body["limit"]]
        page = [{"timestamp": stamp(ms), "message": m} for ms, m in chosen]
        return answer(200, json.dumps([page]).encode())

    return respond, bodies


def read(lines, **kwargs):
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    respond, bodies = platform(lines)
    result, _ = drive(log_lines_steps(ctx, "e", **kwargs), respond, clock)
    return result, bodies


def test_a_short_log_is_one_call_with_a_limit():
    lines = [(1_000 + i, f"line {i}") for i in range(5)]
    result, bodies = read(lines)
    assert [x["message"] for x in result] == [f"line {i}" for i in range(5)]
    assert bodies == [{"limit": 1000}]


def test_pages_follow_the_last_millisecond_without_repeating_or_losing_a_line():
    # Several lines share a millisecond, also across page boundaries.
    lines = [(1_000 + i // 3, f"line {i}") for i in range(25)]
    result, bodies = read(lines, page_lines=4)
    assert [x["message"] for x in result] == [f"line {i}" for i in range(25)]
    assert len(bodies) > 5
    assert all(b["limit"] <= 4 + 3 for b in bodies)  # a page plus the lines of one millisecond


def test_a_millisecond_larger_than_a_page_is_stepped_over():
    lines = [(1_000, f"same {i}") for i in range(10)] + [(1_001, "after")]
    result, _ = read(lines, page_lines=3)
    assert [x["message"] for x in result] == [f"same {i}" for i in range(10)] + ["after"]


def test_at_most_max_lines_are_kept_the_last_ones_and_the_rest_is_announced():
    lines = [(1_000 + i, f"line {i}") for i in range(50)]
    result, _ = read(lines, page_lines=10, max_lines=5)
    assert result[0]["message"] == "[craft-airflow] 45 earlier log lines left out"
    assert [x["message"] for x in result[1:]] == [f"line {i}" for i in range(45, 50)]


def test_reading_stops_after_max_pages_and_says_so():
    lines = [(1_000 + i, f"line {i}") for i in range(50)]
    result, bodies = read(lines, page_lines=10, max_pages=2)
    assert len(bodies) == 2
    assert (
        result[-1]["message"] == "[craft-airflow] the log goes on; reading stopped after 20 lines"
    )


def test_a_platform_ignoring_the_bounds_is_read_once():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    page = [{"timestamp": stamp(1_000 + i), "message": f"l{i}"} for i in range(5)]
    calls = []

    def respond(step):
        calls.append(step)
        return answer(200, json.dumps([page]).encode())

    result, _ = drive(log_lines_steps(ctx, "e", page_lines=3), respond, clock)
    assert [x["message"] for x in result] == [f"l{i}" for i in range(5)]
    assert len(calls) == 2  # the second answer starts before "from": the first had them all


def test_epoch_ms_is_exact():
    assert epoch_ms("2025-03-01T10:00:01.123Z") == 1740823201123
    assert epoch_ms("2025-03-01T10:00:01.123") == 1740823201123
    assert epoch_ms("not a time") is None
    assert epoch_ms(None) is None


def test_epoch_ms_refuses_what_is_not_a_string():
    assert epoch_ms(1740823201123) is None
    assert epoch_ms("") is None
    assert epoch_ms(["2025-03-01T10:00:01Z"]) is None


def _one_millisecond_then_more(same: int) -> list[tuple[int, str]]:
    return [(1_000, f"same {i}") for i in range(same)] + [
        (2_000 + i, f"after {i}") for i in range(3)
    ]


def test_a_millisecond_of_exactly_ten_pages_is_still_stepped_over():
    """With pages of 2 lines, one millisecond may hold up to 20 before reading gives up."""
    lines = _one_millisecond_then_more(20)
    result, _ = read(lines, page_lines=2)
    assert [x["message"] for x in result] == [m for _, m in lines]


def test_a_millisecond_of_more_than_ten_pages_ends_the_reading_and_says_so():
    lines = _one_millisecond_then_more(30)
    result, bodies = read(lines, page_lines=2)
    assert [x["message"] for x in result[:-1]] == [f"same {i}" for i in range(22)]
    assert result[-1]["message"] == (
        "[craft-airflow] the log goes on; reading stopped after 22 lines"
    )
    assert [b["limit"] for b in bodies] == [2, *range(4, 24, 2)]


def test_only_the_lines_of_the_last_millisecond_are_skipped_on_the_next_page():
    """A line out of order (later than the page's last one) is not counted as already read
    on the next page: only the lines of the millisecond the next page starts from are."""
    lines = [(1_000, "a"), (3_000, "late"), (2_000, "b"), (2_000, "c"), (4_000, "d")]
    _, bodies = read(lines, page_lines=3)
    assert bodies[:2] == [{"limit": 3}, {"from": 2_000, "limit": 4}]


def test_the_default_bounds_keep_the_last_50000_lines():
    lines = [(1_000 + i, f"line {i}") for i in range(50_001)]
    result, bodies = read(lines)
    assert len(bodies) == 51  # pages of 1000 lines
    assert result[0]["message"] == "[craft-airflow] 1 earlier log lines left out"
    assert len(result) == 50_001 and result[1]["message"] == "line 1"


def test_the_default_bounds_stop_an_endless_log_after_200_calls():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    calls = []

    def respond(step):
        """Always a full page, starting at the millisecond asked for: a log that never ends."""
        body = step.request.json
        calls.append(body)
        start = body.get("from", 0)
        page = [{"timestamp": stamp(start + i), "message": "x"} for i in range(body["limit"])]
        return answer(200, json.dumps([page]).encode())

    result, _ = drive(log_lines_steps(ctx, "e"), respond, clock)
    assert len(calls) == 200
    assert result[-1]["message"].startswith("[craft-airflow] the log goes on; reading stopped")


def test_a_long_log_read_whole_gets_no_note():
    lines = [(1_000 + i, f"line {i}") for i in range(2_500)]
    result, bodies = read(lines)
    assert [x["message"] for x in result] == [m for _, m in lines]
    assert len(bodies) == 3


def test_lines_without_a_time_end_the_reading_after_one_page_and_say_so():
    """Nothing to ask the next page ``from``: reading one page again would repeat it."""
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    calls = []

    def respond(step):
        calls.append(step.request.json)
        page = [{"message": f"untimed {i}"} for i in range(step.request.json["limit"])]
        return answer(200, json.dumps([page]).encode())

    result, _ = drive(log_lines_steps(ctx, "e", page_lines=2), respond, clock)
    assert len(calls) == 1
    assert [x["message"] for x in result] == [
        "untimed 0",
        "untimed 1",
        "[craft-airflow] the log goes on; reading stopped after 2 lines",
    ]
