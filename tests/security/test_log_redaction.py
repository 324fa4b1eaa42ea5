"""The HTTP libraries' own log records lose their ``?token=`` values, on every logger they use."""

from __future__ import annotations

import io
import logging

import pytest

import craft_airflow.hooks.craft
import craft_airflow.hooks.craft_async  # noqa: F401  (installs the filters)

SECRET = "ept-SECRET-log-redaction-5d1c2b"


@pytest.mark.parametrize(
    "logger_name",
    [
        "urllib3.connectionpool",
        "urllib3.util.retry",
        "httpx",
        "httpcore.http11",
        "httpcore.connection",
    ],
)
def test_token_urls_are_redacted_on_library_loggers(logger_name: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    logger = logging.getLogger(logger_name)
    previous = (root.level, logger.level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logger.setLevel(logging.DEBUG)
    try:
        # The shapes these libraries log: a request line, a retried URL, a redirect header.
        logger.debug('"GET /endpoints/v1/e/executions/x?token=%s HTTP/1.1" 307 0', SECRET)
        logger.debug("Incremented Retry for (url='/endpoints/v1/e?token=%s')", SECRET)
        logger.warning(
            "receive_response_headers.complete return_value=%r",
            [(b"location", f"/endpoints/v1/e/executions/x?token={SECRET}".encode())],
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(previous[0])
        logger.setLevel(previous[1])
    logged = stream.getvalue()
    assert logged.count("token=***") == 3, logged
    assert SECRET not in logged
