"""The one place deciding what an answer (or a failure to get one) means.

=========================  ====================  ======================  ===================
answer                     idempotent call       creating call           long-poll call
=========================  ====================  ======================  ===================
2xx                        done                  done                    done (finished)
3xx                        done                  done (id in body)       not yet
401 (Bearer, 1st time)     refresh + resend      refresh + resend        refresh + resend
401 / 403                  fail (auth)           fail (auth)             fail (auth)
429, 503                   retry                 retry                   retry
502, 504                   retry                 ambiguous               retry
other >= 400               fail                  fail                    fail
not sent (refused, DNS,    retry                 retry                   retry
  connect timeout)
sent, no answer (read      retry                 ambiguous               retry
  timeout, reset)
  or a whole answer not in
  time (total deadline)
TLS / invalid URL          fail                  fail                    fail
answer over the size bound fail                  fail                    fail
=========================  ====================  ======================  ===================

Why 429 and 503 are retried even for calls that create an execution: both are answers that
say the request was *not processed* (rate limited; no backend available — RFC 9110 §15.6.4),
so re-sending cannot run the pipeline twice. 502 and 504 come from a proxy that did forward
the request; the backend may have created the execution, so they are ambiguous, like a reset
or a read timeout after sending. A 401 means the request was refused, so it is re-sent once
after a token refresh, creating calls included.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from craft_airflow.errors import (
    CraftAnswerTooLarge,
    CraftAPIError,
    CraftAuthError,
    CraftConnectionError,
    CraftDeadlineExceeded,
    CraftRequestError,
)
from craft_airflow.protocol.http import (
    AuthKind,
    FailureKind,
    HttpRequest,
    Response,
    Result,
    TransportFailure,
)
from craft_airflow.protocol.readers import parse_error

RETRY_STATUSES = frozenset({429, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429, 503})
QUICK_ANSWER_SECONDS = 1.0


class Action(StrEnum):
    DONE = "done"
    NOT_YET = "not_yet"
    RETRY = "retry"
    REFRESH = "refresh"
    AMBIGUOUS = "ambiguous"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    action: Action
    error: CraftRequestError | None = None
    retry_after: str | None = None


def classify(
    request: HttpRequest,
    result: Result,
    *,
    refreshed: bool = False,
) -> Decision:
    """Decide what to do with one attempt's result (see the module table).

    :param refreshed: the token was already refreshed once for this call.
    """
    op = request.operation or request.describe()
    if isinstance(result, TransportFailure):
        # Name where the call went (no query: it may hold a token), e.g. the host of a closed port.
        parts = urlsplit(request.url)
        where = f"{parts.scheme}://{parts.netloc}{parts.path}"
        if result.kind == FailureKind.TOO_LARGE:
            return Decision(
                Action.FAIL,
                CraftAnswerTooLarge(result.status, f"{op} failed: {where}: {result.detail}"),
            )
        what = "could not reach" if result.kind == FailureKind.NOT_SENT else "no answer from"
        error: CraftRequestError = CraftConnectionError(
            f"{op} failed: {what} {where} ({result.detail})"
        )
        if result.kind == FailureKind.TOO_SLOW:
            error = CraftDeadlineExceeded(f"{op} failed: {where}: {result.detail}")
        if result.kind == FailureKind.FATAL:
            return Decision(Action.FAIL, error)
        if result.kind == FailureKind.NOT_SENT or request.idempotent:
            return Decision(Action.RETRY, error)
        if request.creates_execution:
            return Decision(Action.AMBIGUOUS, error)
        return Decision(Action.FAIL, error)

    assert isinstance(result, Response)
    status = result.status
    if status < 300:
        return Decision(Action.DONE)
    if status < 400:
        return Decision(Action.NOT_YET if request.long_poll else Action.DONE)
    if status == 401 and request.auth == AuthKind.BEARER and not refreshed:
        return Decision(Action.REFRESH)
    error = parse_error(
        status,
        result.body.decode("utf-8", "replace"),
        result.content_type,
        operation=op,
    )
    if status in (401, 403):
        return Decision(Action.FAIL, error)
    if status in RETRY_STATUSES:
        retry_after = result.header("retry-after")
        if status in NOT_PROCESSED_STATUSES or request.idempotent:
            return Decision(Action.RETRY, error, retry_after)
        if request.creates_execution:
            return Decision(Action.AMBIGUOUS, error)
    return Decision(Action.FAIL, error)


def is_not_yet(request: HttpRequest, response: Response) -> bool:
    """A long-poll answer meaning "not finished yet"."""
    return request.long_poll and 300 <= response.status < 400


def endpoint_error_is_execution_failure(error: CraftAPIError) -> bool:
    """On the endpoint results route (§7.2), an error answer other than auth (401/403) and
    not-found (404: wrong path or unknown id) reports the execution's failure (500 per the SDK
    comment; tolerant: any other >= 400)."""
    if isinstance(error, CraftAuthError) or error.status_code is None:
        return False
    return error.status_code >= 400 and error.status_code not in (401, 403, 404)
