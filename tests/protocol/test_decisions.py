"""craft_airflow.protocol.decisions: the decision table."""

from __future__ import annotations

import pytest
from protocol_kit import CREATE, EP_CREATE, GET, POLL, answer

from craft_airflow.errors import (
    CraftAuthError,
)
from craft_airflow.protocol.decisions import Action, classify
from craft_airflow.protocol.http import (
    FailureKind,
    TransportFailure,
)


@pytest.mark.parametrize(
    ("request_", "result", "expected"),
    [
        (GET, answer(200, b"{}"), Action.DONE),
        (GET, answer(307, b""), Action.DONE),
        (POLL, answer(307, b""), Action.NOT_YET),
        (POLL, answer(200, b"{}"), Action.DONE),
        (CREATE, answer(303, b'{"execution_id":"e"}'), Action.DONE),
        (GET, answer(401), Action.REFRESH),
        (CREATE, answer(401), Action.REFRESH),
        (EP_CREATE, answer(401), Action.FAIL),
        (GET, answer(403), Action.FAIL),
        (GET, answer(404), Action.FAIL),
        (GET, answer(500), Action.FAIL),
        (CREATE, answer(500), Action.FAIL),
        (GET, answer(429), Action.RETRY),
        (CREATE, answer(429), Action.RETRY),
        (CREATE, answer(503), Action.RETRY),
        (GET, answer(502), Action.RETRY),
        (GET, answer(504), Action.RETRY),
        (CREATE, answer(502), Action.AMBIGUOUS),
        (CREATE, answer(504), Action.AMBIGUOUS),
        (GET, TransportFailure(FailureKind.NOT_SENT, "refused"), Action.RETRY),
        (CREATE, TransportFailure(FailureKind.NOT_SENT, "refused"), Action.RETRY),
        (GET, TransportFailure(FailureKind.NO_ANSWER, "reset"), Action.RETRY),
        (POLL, TransportFailure(FailureKind.NO_ANSWER, "read timeout"), Action.RETRY),
        (CREATE, TransportFailure(FailureKind.NO_ANSWER, "reset"), Action.AMBIGUOUS),
        (EP_CREATE, TransportFailure(FailureKind.NO_ANSWER, "reset"), Action.AMBIGUOUS),
        (GET, TransportFailure(FailureKind.FATAL, "certificate verify failed"), Action.FAIL),
    ],
)
def test_classify(request_, result, expected):
    assert classify(request_, result).action == expected


def test_classify_second_401_fails_with_auth_error():
    decision = classify(GET, answer(401), refreshed=True)
    assert decision.action == Action.FAIL
    assert isinstance(decision.error, CraftAuthError)


def test_classify_passes_retry_after_on():
    assert classify(GET, answer(429, **{"Retry-After": "7"})).retry_after == "7"


# -- bounds exceeded --------------------------------------------------------------------------


def test_an_answer_over_the_size_bound_fails_at_once_naming_call_and_bound():
    from craft_airflow.errors import CraftAnswerTooLarge
    from craft_airflow.protocol.http import Send

    failure = Send(GET, max_bytes=1024).too_large(200)
    decision = classify(GET, failure)
    assert decision.action == Action.FAIL
    assert isinstance(decision.error, CraftAnswerTooLarge)
    assert decision.error.status_code == 200
    assert "get execution 'e'" in str(decision.error)
    assert "max_response_bytes=1024" in str(decision.error)


def test_no_whole_answer_in_time_is_retried_like_a_read_timeout_naming_the_bound():
    from craft_airflow.errors import CraftDeadlineExceeded
    from craft_airflow.protocol.http import Send, Timeouts

    failure = Send(GET, timeouts=Timeouts(1, 5, 5, "connection extra request_timeout=5")).too_slow()
    decision = classify(GET, failure)
    assert decision.action == Action.RETRY
    assert isinstance(decision.error, CraftDeadlineExceeded)
    assert "no whole answer within 5 s (connection extra request_timeout=5)" in str(decision.error)
    assert classify(CREATE, failure).action == Action.AMBIGUOUS
