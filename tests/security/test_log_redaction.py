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
        "aiohttp",
        "aiohttp.client",
        "aiohttp.internal",
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


def test_registered_secrets_are_redacted_under_any_name() -> None:
    """A connection's tokens are removed from these records wherever they appear, e.g. a
    redirect that carries one under another parameter name."""
    from craft_airflow.connection import CraftConnectionConfig, mask_secrets

    other = "ept-SECRET-log-redaction-other-9f3e"
    mask_secrets(CraftConnectionConfig("http://h", endpoint_tokens={"e": other}))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("urllib3.connectionpool")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug('"GET /files/report?sig=%s HTTP/1.1" 200 12', other)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert stream.getvalue() == '"GET /files/report?sig=*** HTTP/1.1" 200 12\n'
