"""craft_airflow.protocol.decisions: the decision table."""

from __future__ import annotations

import pytest
from protocol_kit import CREATE, EP_CREATE, GET, POLL, answer

from craft_airflow.errors import CraftAPIError, CraftAuthError, CraftConnectionError
from craft_airflow.protocol.decisions import (
    Action,
    classify,
    endpoint_error_is_execution_failure,
    is_not_yet,
)
from craft_airflow.protocol.http import FailureKind, HttpRequest, TransportFailure


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


# -- boundaries: each status where the table changes, and its neighbours ----------------------

# A request that is neither idempotent nor creating an execution (creating a deployment).
DEPLOY = HttpRequest("POST", "https://env.example.com/api/v1/endpoints", idempotent=False)


@pytest.mark.parametrize(
    ("status", "get", "poll", "create"),
    [
        (200, Action.DONE, Action.DONE, Action.DONE),
        (299, Action.DONE, Action.DONE, Action.DONE),
        (300, Action.DONE, Action.NOT_YET, Action.DONE),
        (307, Action.DONE, Action.NOT_YET, Action.DONE),
        (399, Action.DONE, Action.NOT_YET, Action.DONE),
        (400, Action.FAIL, Action.FAIL, Action.FAIL),
        (401, Action.REFRESH, Action.REFRESH, Action.REFRESH),
        (402, Action.FAIL, Action.FAIL, Action.FAIL),
        (403, Action.FAIL, Action.FAIL, Action.FAIL),
        (404, Action.FAIL, Action.FAIL, Action.FAIL),
        (428, Action.FAIL, Action.FAIL, Action.FAIL),
        (429, Action.RETRY, Action.RETRY, Action.RETRY),
        (430, Action.FAIL, Action.FAIL, Action.FAIL),
        (499, Action.FAIL, Action.FAIL, Action.FAIL),
        (500, Action.FAIL, Action.FAIL, Action.FAIL),
        (501, Action.FAIL, Action.FAIL, Action.FAIL),
        (502, Action.RETRY, Action.RETRY, Action.AMBIGUOUS),
        (503, Action.RETRY, Action.RETRY, Action.RETRY),
        (504, Action.RETRY, Action.RETRY, Action.AMBIGUOUS),
        (505, Action.FAIL, Action.FAIL, Action.FAIL),
    ],
)
def test_each_status_boundary_gets_its_decision(status, get, poll, create):
    assert classify(GET, answer(status)).action == get
    assert classify(POLL, answer(status)).action == poll
    assert classify(CREATE, answer(status)).action == create


@pytest.mark.parametrize(
    ("status", "expected"),
    [(299, False), (300, True), (307, True), (399, True), (400, False), (200, False)],
)
def test_only_a_3xx_answer_to_a_long_poll_is_not_yet(status, expected):
    assert is_not_yet(POLL, answer(status)) is expected
    assert is_not_yet(GET, answer(status)) is False


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, CraftAPIError),
        (401, CraftAuthError),
        (402, CraftAPIError),
        (403, CraftAuthError),
        (404, CraftAPIError),
        (500, CraftAPIError),
    ],
)
def test_a_failing_answer_carries_its_status_and_auth_only_for_401_and_403(status, error_class):
    decision = classify(GET, answer(status), refreshed=True)
    assert decision.action == Action.FAIL
    assert type(decision.error) is error_class
    assert decision.error.status_code == status
    assert decision.retry_after is None


def test_an_unrefreshable_401_fails_at_once():
    """An endpoint token (no bearer to refresh) and a second 401 both fail with an auth error."""
    for request, refreshed in ((EP_CREATE, False), (GET, True), (CREATE, True)):
        decision = classify(request, answer(401), refreshed=refreshed)
        assert decision.action == Action.FAIL
        assert isinstance(decision.error, CraftAuthError)


@pytest.mark.parametrize(
    ("status", "retried"), [(429, True), (502, False), (503, True), (504, False)]
)
def test_a_request_neither_idempotent_nor_creating_is_retried_only_when_not_processed(
    status, retried
):
    decision = classify(DEPLOY, answer(status, **{"Retry-After": "3"}))
    assert decision.action == (Action.RETRY if retried else Action.FAIL)
    assert decision.retry_after == ("3" if retried else None)
    assert decision.error is not None and decision.error.status_code == status


def test_retry_after_is_passed_on_for_every_retried_status_and_only_those():
    for status in (429, 502, 503, 504):
        assert classify(GET, answer(status, **{"Retry-After": "4"})).retry_after == "4"
    assert classify(CREATE, answer(502, **{"Retry-After": "4"})).retry_after is None
    assert classify(GET, answer(500, **{"Retry-After": "4"})).retry_after is None


@pytest.mark.parametrize(
    ("kind", "get", "create", "deploy"),
    [
        (FailureKind.NOT_SENT, Action.RETRY, Action.RETRY, Action.RETRY),
        (FailureKind.NO_ANSWER, Action.RETRY, Action.AMBIGUOUS, Action.FAIL),
        (FailureKind.FATAL, Action.FAIL, Action.FAIL, Action.FAIL),
    ],
)
def test_each_transport_failure_by_kind_of_request(kind, get, create, deploy):
    failure = TransportFailure(kind, "detail")
    assert classify(GET, failure).action == get
    assert classify(CREATE, failure).action == create
    assert classify(DEPLOY, failure).action == deploy
    decision = classify(DEPLOY, failure)
    assert type(decision.error) is CraftConnectionError
    assert "detail" in str(decision.error)


def test_a_transport_failure_names_where_without_the_query():
    request = HttpRequest("GET", "https://env.example.com/api/v1/x?token=abc", operation="read x")
    text = str(classify(request, TransportFailure(FailureKind.NOT_SENT, "refused")).error)
    assert "read x failed: could not reach https://env.example.com/api/v1/x (refused)" in text
    text = str(classify(request, TransportFailure(FailureKind.NO_ANSWER, "reset")).error)
    assert "read x failed: no answer from https://env.example.com/api/v1/x (reset)" in text
    assert "token" not in text


@pytest.mark.parametrize(
    ("status", "is_failure"),
    [
        (399, False),
        (400, True),
        (401, False),
        (402, True),
        (403, False),
        (404, False),
        (405, True),
        (500, True),
    ],
)
def test_which_endpoint_result_errors_are_the_execution_failing(status, is_failure):
    error = CraftAPIError(status, "m")
    assert endpoint_error_is_execution_failure(error) is is_failure
    assert endpoint_error_is_execution_failure(CraftAPIError(None, "m")) is False
    assert endpoint_error_is_execution_failure(CraftAuthError(500, "m")) is False
