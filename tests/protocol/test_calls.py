"""craft_airflow.protocol.calls: one call with refresh and retries, driven by hand."""

from __future__ import annotations

import pytest
from protocol_kit import CONFIG, CREATE, GET, answer, context, drive, make_jwt, token_answer

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
    CraftConnectionError,
)
from craft_airflow.protocol.builders import build_get_pipeline
from craft_airflow.protocol.calls import AmbiguousSend, perform
from craft_airflow.protocol.http import (
    FailureKind,
    Send,
    Sleep,
    TransportFailure,
)


def test_perform_refreshes_first_then_sends_with_bearer():
    ctx, clock = context()
    answers = iter([token_answer(), answer(200, b'{"status": "Running"}')])
    result, sent = drive(perform(ctx, GET), lambda s: next(answers), clock)
    assert result.status == 200
    assert [s.request.url for s in sent] == [
        "https://ctl.example.com/api/v1/auth/refresh",
        GET.url,
    ]
    assert sent[0].bearer is None and sent[0].request.json == {
        "refresh_token": "sdk-secret-token-1"
    }
    assert sent[1].bearer == ctx.tokens.current()


def test_perform_401_refreshes_once_and_resends_even_a_creation():
    ctx, clock = context()
    answers = iter(
        [token_answer(), answer(401), token_answer(), answer(200, b'{"execution_id": "e9"}')]
    )
    result, sent = drive(perform(ctx, CREATE), lambda s: next(answers), clock)
    assert result.status == 200
    assert [s.request.url.rsplit("/", 1)[-1] for s in sent] == ["refresh", "run", "refresh", "run"]


def test_perform_second_401_raises_auth_error_without_secrets():
    ctx, clock = context()
    answers = iter(
        [
            token_answer(),
            answer(401),
            token_answer(),
            answer(401, b'{"message": "token sdk-secret-token-1 rejected"}'),
        ]
    )
    with pytest.raises(CraftAuthError) as err:
        drive(perform(ctx, GET), lambda s: next(answers), clock)
    assert "sdk-secret-token-1" not in str(err.value)


def test_refused_sdk_token_is_an_auth_error():
    ctx, clock = context()
    with pytest.raises(CraftAuthError, match=r"SDK token .* was refused"):
        drive(perform(ctx, GET), lambda s: answer(400, b'{"message": "invalid"}'), clock)


def test_perform_honours_retry_after_then_gives_up_with_a_count():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    answers = iter([answer(429, **{"Retry-After": "9"}), answer(503), answer(503), answer(503)])
    with pytest.raises(CraftAPIError, match=r"gave up after 3 retries") as err:
        drive(perform(ctx, GET), lambda s: next(answers), clock)
    assert err.value.status_code == 503


def test_perform_retry_after_value_is_waited():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    answers = iter([answer(429, **{"Retry-After": "9"}), answer(200, b"{}")])
    result, sent = drive(perform(ctx, GET), lambda s: next(answers), clock)
    assert result.status == 200
    assert [s.seconds for s in sent if isinstance(s, Sleep)] == [9.0]


def test_perform_creation_retried_only_when_not_sent():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    answers = iter(
        [TransportFailure(FailureKind.NOT_SENT, "refused"), answer(200, b'{"execution_id": "e"}')]
    )
    result, sent = drive(perform(ctx, CREATE), lambda s: next(answers), clock)
    assert result.status == 200
    assert sum(isinstance(s, Send) for s in sent) == 2
    with pytest.raises(AmbiguousSend) as amb:
        drive(
            perform(ctx, CREATE),
            lambda s: TransportFailure(FailureKind.NO_ANSWER, "reset after send"),
            clock,
        )
    assert amb.value.started_wall == 1_800_000_000 + clock.now


def test_perform_unreachable_raises_connection_error():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    with pytest.raises(CraftConnectionError, match="unreachable"):
        drive(perform(ctx, GET), lambda s: TransportFailure(FailureKind.NOT_SENT, "refused"), clock)


# -- first contact: a host that never answered gets the short budget ----------------------------

FIRST_CONTACT = CraftConnectionConfig(
    environment_url="http://127.0.0.1:9",
    sdk_token="sdk-secret-token-1",
    conn_id="my_craft",
    max_retries=100,
    max_retry_seconds=120,
    connect_retry_seconds=10,
)
REFUSED = TransportFailure(FailureKind.NOT_SENT, "ConnectionRefusedError: [Errno 111]")


def test_never_answering_host_fails_within_the_first_contact_budget():
    ctx, clock = context(FIRST_CONTACT)
    start = clock.now
    with pytest.raises(CraftConnectionError) as err:
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")), lambda s: REFUSED, clock)
    text = str(err.value)
    assert clock.now - start <= 10
    assert "Connection 'my_craft'" in text
    assert "http://127.0.0.1:9/api/v1/auth/refresh" in text
    assert "connect_retry_seconds=10" in text and "sdk-secret-token-1" not in text
    # rng 0.5: delays 0.25, 0.5, 1, 2, 4 (7.75 s); the next (8 s) would pass 10 s.
    assert "unreachable after 6 attempts" in text


def test_a_host_that_answered_then_fails_gets_the_full_budget():
    ctx, clock = context(FIRST_CONTACT)
    ctx.tokens.store(make_jwt(), clock.now)
    answers = iter([answer(503)])
    start = clock.now
    with pytest.raises(CraftConnectionError) as err:
        drive(
            perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")),
            lambda s: next(answers, REFUSED),
            clock,
        )
    assert 60 < clock.now - start <= 120
    assert "max_retry_seconds=120" in str(err.value)

    # Later calls of the same hook to that host: the full budget from their first attempt.
    start = clock.now
    with pytest.raises(CraftConnectionError):
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "q")), lambda s: REFUSED, clock)
    assert clock.now - start > 10


def test_single_attempt_context_never_retries():
    ctx, clock = context(FIRST_CONTACT)
    ctx.single_attempt = True
    with pytest.raises(CraftConnectionError, match=r"after 1 attempts .*one attempt only"):
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")), lambda s: REFUSED, clock)
    ctx.tokens.store(make_jwt(), clock.now)
    with pytest.raises(CraftAPIError, match="gave up after 0 retries"):
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")), lambda s: answer(503), clock)


def test_a_host_that_took_the_request_without_answering_gets_the_full_budget():
    ctx, clock = context(FIRST_CONTACT)
    ctx.tokens.store(make_jwt(), clock.now)
    timed_out = TransportFailure(FailureKind.NO_ANSWER, "ReadTimeout")
    start = clock.now
    with pytest.raises(CraftConnectionError, match="max_retry_seconds=120"):
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")), lambda s: timed_out, clock)
    assert clock.now - start > 10


# -- bounds of each attempt ---------------------------------------------------------------------


def test_each_attempt_carries_its_total_deadline_and_size_bound():
    import io

    from craft_airflow.protocol.builders import (
        build_download_output,
        build_run_pipeline,
        build_wait_outputs,
    )

    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    sent = []

    def respond(step):
        sent.append(step)
        return answer(200, b"{}")

    create_with_file = build_run_pipeline(CONFIG, "p", files={"f": ("f.txt", io.BytesIO(b"x"))})
    for request in (GET, build_wait_outputs(CONFIG, "e"), build_download_output(CONFIG, "e", "o")):
        drive(perform(ctx, request), respond, clock)
    normal, long_poll, download = sent
    assert (normal.timeouts.total, normal.max_bytes) == (CONFIG.request_timeout, 64 * 1024**2)
    assert normal.timeouts.bound == f"connection extra request_timeout={CONFIG.request_timeout:g}"
    assert long_poll.timeouts.total == CONFIG.long_poll_timeout
    assert download.timeouts.total == CONFIG.transfer_timeout
    assert download.timeouts.read == CONFIG.request_timeout
    # A request with files is a transfer too.
    drive(perform(ctx, create_with_file), respond, clock)
    assert sent[-1].timeouts.total == CONFIG.transfer_timeout


def test_a_deadline_exceeded_stays_one_after_the_retries():
    from craft_airflow.errors import CraftDeadlineExceeded

    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    with pytest.raises(CraftDeadlineExceeded) as err:
        drive(perform(ctx, GET), lambda step: step.too_slow(), clock)
    assert "request_timeout=30" in str(err.value)
    assert "gave up after 3 retries" in str(err.value)
