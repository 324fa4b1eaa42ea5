"""Exceptions raised by the provider, and the redaction every error text goes through.

Every exception the provider raises derives from :class:`CraftError`::

    CraftError
    ├── CraftConfigError          the connection is missing a value or holds a bad one
    ├── CraftInputError           a task argument is wrong (also a ValueError)
    ├── InvalidTriggerEvent       a trigger event outside the closed set (also a ValueError)
    ├── CraftRequestError         a platform call failed
    │   ├── CraftConnectionError  no answer: unreachable, reset, timed out (no HTTP status)
    │   │   └── CraftDeadlineExceeded  no whole answer within the call's deadline
    │   └── CraftAPIError         an answer saying no (HTTP status), or one that cannot be read
    │       ├── CraftAuthError    credentials refused (401/403) or missing
    │       └── CraftAnswerTooLarge  an answer larger than the size bound
    ├── CraftExecutionFailed      the execution ended Failed/Error
    ├── CraftWaitTimeout          the wait ran out of time
    └── CraftAmbiguousCreation    a creation may have happened and none could be adopted

No message may carry a secret: SDK tokens, JWTs, endpoint tokens, ``Authorization`` values or
URLs with a ``?token=`` query. The boundary is :class:`CraftError` itself: every text an error
holds (message, platform message, name, request id, the arguments it pickles with) goes through
:func:`clean` when the error is built: the patterns, plus the secrets of the connections in use,
registered by :func:`register_log_secrets` whenever a connection config is read
(:func:`~craft_airflow.connection.from_connection`) or used for calls
(:class:`~craft_airflow.protocol.calls.CallContext`). The protocol core and the hooks build
error texts without knowing any secret; a text shortened before it becomes an error (a body
excerpt, a transport failure's detail) goes through :func:`clean` before it is cut, so that no
half of a secret survives.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

REDACTED = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # token=<value> in query strings (also access_token=, refresh_token=, endpoint_token=)
    (re.compile(r"(?i)((?:^|[?&;\s\"'(])[a-z_]*token=)[^&\s\"'<>)]+"), rf"\1{REDACTED}"),
    # JSON fields carrying tokens: "refresh_token": "x"
    (
        re.compile(r"(?i)(\"[a-z_]*token\"\s*:\s*\")[^\"]*(\")"),
        rf"\1{REDACTED}\2",
    ),
    # Authorization schemes
    (re.compile(r"(?i)\b(Bearer|EndpointToken|Basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\n]+"), rf"\1{REDACTED}"),
    # Anything shaped like a JWT
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` with token-bearing parts replaced by ``***``.

    :param secrets: literal secret values to remove as well (e.g. the configured tokens).
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def clean(text: str) -> str:
    """:func:`redact` with the registered secrets: what every error text goes through."""
    return redact(text, _LOG_SECRETS)


class CraftError(AirflowException):
    """Base class of every error raised by the Craft AI provider."""

    def __init__(self, message: str) -> None:
        self.message = clean(message)
        super().__init__(self.message)
        # The constructor arguments of a subclass (set before calling this), kept for pickling.
        init_args = getattr(self, "_init_args", (self.message,))
        self._init_args: tuple[Any, ...] = tuple(_clean_value(a) for a in init_args)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take other constructor arguments than ``args``: rebuild from those, so
        # that the errors survive pickling and copying.
        return (self.__class__, self._init_args)


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


class CraftConfigError(CraftError):
    """The Airflow connection is missing a value or holds a malformed one."""


class CraftInputError(CraftError, ValueError):
    """A task argument (inputs, mappings, files, wait settings) is not what was expected; the
    message names the field and what was expected."""


class InvalidTriggerEvent(CraftError, ValueError):
    """An event payload outside the closed set, or malformed."""


class CraftRequestError(CraftError):
    """A platform call failed: :class:`CraftConnectionError` (no answer) or
    :class:`CraftAPIError` (an answer saying no).

    :param message: the platform's message, or a description of the failure.
    """

    def __init__(self, message: str) -> None:
        self.platform_message = clean(message)
        super().__init__(message)


class CraftConnectionError(CraftRequestError):
    """The platform could not be reached or did not answer (after the allowed retries)."""

    def __init__(self, message: str) -> None:
        self._init_args = (message,)
        self.platform_message = clean(message)
        CraftError.__init__(self, f"[unreachable] {message}")


class CraftAPIError(CraftRequestError):
    """The platform answered with an error status, or with an answer that cannot be read.

    :param status_code: HTTP status of the answer (``None`` when the answer was unreadable, or
        for a missing credential).
    :param message: the platform's message, or a description of the failure.
    :param name: the platform's error ``name`` field, if any.
    :param request_id: the platform's ``request_id``, if any.
    """

    #: Label of a message without an HTTP status or platform error name.
    no_status_label = "error"

    def __init__(
        self,
        status_code: int | None,
        message: str,
        name: str | None = None,
        request_id: str | None = None,
    ) -> None:
        name = clean(name) if name else name
        request_id = clean(request_id) if request_id else request_id
        self._init_args = (status_code, message, name, request_id)
        # AirflowException declares status_code as an HTTPStatus; here it is the platform's.
        self.status_code = status_code  # type: ignore[assignment]
        self.name = name
        self.request_id = request_id
        label = name or (str(status_code) if status_code is not None else self.no_status_label)
        text = f"[{label}] {message}"
        if request_id and request_id != "NO_REQUEST_ID":
            text = f"{text} (request id: {request_id})"
        CraftError.__init__(self, text)
        self.platform_message = clean(message)


class CraftAuthError(CraftAPIError):
    """The platform refused the credentials (401/403), or no usable credential is configured."""

    no_status_label = "credentials"


class CraftAnswerTooLarge(CraftAPIError):
    """An answer was larger than the bound it is read with (connection extra
    ``max_response_bytes``); its reading stopped there. The message names the call and the
    bound. Not retried: the same call would get the same answer."""

    no_status_label = "too large"


class CraftDeadlineExceeded(CraftConnectionError):
    """No whole answer came within the call's deadline (``request_timeout``,
    ``long_poll_timeout`` or ``transfer_timeout``), e.g. a body trickling in; the message names
    the call and the bound."""


class CraftExecutionFailed(CraftError):
    """An execution ended in a failure status.

    :param execution_id: the execution.
    :param status: its final status (``Failed``, ``Error``, or ``None`` when the endpoint route
        only reported a failure).
    :param message: details (platform error or last log lines).
    """

    def __init__(self, execution_id: str, status: str | None, message: str) -> None:
        self._init_args = (execution_id, status, message)
        self.execution_id = clean(execution_id)
        self.status = clean(status) if status else status
        super().__init__(message)


class CraftWaitTimeout(CraftError):
    """Waiting for an execution ran out of time; the execution keeps running."""

    def __init__(self, execution_id: str, message: str | None = None) -> None:
        self._init_args = (execution_id, message)
        self.execution_id = clean(execution_id)
        super().__init__(
            message
            or f"Timed out waiting for execution {execution_id}; it keeps running on the "
            "platform (the platform has no cancel call)."
        )


class CraftAmbiguousCreation(CraftError):
    """A creation request may or may not have created an execution, and none could be adopted.

    :param candidates: ids of executions that could be the one created (possibly empty).
    """

    def __init__(self, candidates: list[str], message: str | None = None) -> None:
        self._init_args = (list(candidates), message)
        self.candidates = [clean(c) for c in candidates]
        if message is None:
            if candidates:
                message = (
                    "The creation request got no clear answer and several executions could be "
                    f"the one it created: {', '.join(candidates)}. Not re-sending it."
                )
            else:
                message = (
                    "The creation request got no clear answer and no execution it created was "
                    "found. Not re-sending it, to avoid running the pipeline twice; check the "
                    "platform's executions page."
                )
        super().__init__(message)


#: Literal secrets of the connections in use, removed by :class:`TokenRedactingFilter` as well
#: (replaced as a whole, never mutated: log records are filtered on many threads).
_LOG_SECRETS: tuple[str, ...] = ()


def register_log_secrets(values: Iterable[str | None]) -> None:
    """Have :class:`TokenRedactingFilter` remove these values wherever they appear (e.g. a
    redirect ``Location`` carrying a token under another parameter name)."""
    global _LOG_SECRETS
    new = [v for v in values if v and len(v) >= 4 and v not in _LOG_SECRETS]
    if new:
        _LOG_SECRETS = (*_LOG_SECRETS, *dict.fromkeys(new))


class TokenRedactingFilter(logging.Filter):
    """Logging filter that redacts token-bearing parts of records (URLs with ``?token=``...)
    and the secrets given to :func:`register_log_secrets`.

    Installed on the ``urllib3``, ``requests`` and ``aiohttp`` loggers, which may log
    request URLs, and on the provider's own (``craft_airflow.*``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        redacted = redact(message, _LOG_SECRETS)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = TokenRedactingFilter()


def install_log_redaction(*logger_names: str) -> None:
    """Attach :class:`TokenRedactingFilter` to the named loggers and to every descendant they
    already have (idempotent).

    A logger's filters only see the records created on that very logger, not those propagating
    from its children: httpcore logs response headers (a redirect's ``Location`` with
    ``?token=``) on ``httpcore.http11``, urllib3 logs retried URLs on ``urllib3.util.retry``.
    Call this after importing the library, so that its loggers exist.
    """
    existing = list(logging.Logger.manager.loggerDict)
    for name in logger_names:
        for logger_name in [name, *(n for n in existing if n.startswith(f"{name}."))]:
            logger = logging.getLogger(logger_name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
