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
