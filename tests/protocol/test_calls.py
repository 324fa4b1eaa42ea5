"""craft_airflow.protocol.calls: one call with refresh and retries, driven by hand."""

from __future__ import annotations

import pytest
from protocol_kit import CREATE, GET, answer, context, drive, make_jwt, token_answer

from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
    CraftConnectionError,
)
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
