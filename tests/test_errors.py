"""craft_airflow.errors: redaction and the exceptions."""

from __future__ import annotations

import json

import pytest

from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
    CraftConnectionError,
)


@pytest.mark.parametrize(
    "text",
    [
        "GET http://h/endpoints/v1/p/executions/e?token=s3cr3t-value&x=1",
        "url: /file?token=s3cr3t-value",
        "Authorization: Bearer s3cr3t-value",
        "headers={'Authorization': 'EndpointToken s3cr3t-value'}",
        '{"refresh_token": "s3cr3t-value"}',
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzM2NyM3QtdmFsdWUifQ.s3cr3t-value in text",
    ],
)
def test_redaction_of_token_shapes(text):
    from craft_airflow.errors import CraftError, redact

    assert "s3cr3t-value" not in redact(text)
    assert "s3cr3t-value" not in str(CraftError(text))
    assert "s3cr3t-value" not in str(CraftAPIError(500, text))


def test_literal_secrets_are_redacted_too():
    from craft_airflow.errors import redact

    assert redact("token was plainsecret99", ["plainsecret99"]) == "token was ***"


def test_errors_survive_pickling():
    import pickle

    from craft_airflow.errors import (
        CraftAmbiguousCreation,
        CraftConfigError,
        CraftExecutionFailed,
        CraftWaitTimeout,
    )

    errors = [
        CraftAPIError(404, "gone", "NotFound", "r1"),
        CraftAuthError(401, "no"),
        CraftConnectionError("down"),
        CraftExecutionFailed("e1", "Failed", "boom"),
        CraftWaitTimeout("e2"),
        CraftAmbiguousCreation(["a", "b"]),
        CraftConfigError("bad"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
    assert pickle.loads(pickle.dumps(errors[0])).status_code == 404
    assert pickle.loads(pickle.dumps(errors[5])).candidates == ["a", "b"]


# A secret no pattern recognises: only the registry (filled from the connection) removes it.
SECRET = "Zq7rXk2mWp9sLt4vHn3c"


def _protocol_errors():
    """Errors built by the protocol core from texts carrying ``SECRET``, each at a place where
    a shortened text would cut it in half."""
    from craft_airflow.connection import CraftConnectionConfig
    from craft_airflow.protocol import calls
    from craft_airflow.protocol.builders import build_get_execution
    from craft_airflow.protocol.decisions import classify
    from craft_airflow.protocol.http import (
        DETAIL_CHARS,
        FailureKind,
        Response,
        TransportFailure,
        describe_exception,
    )
    from craft_airflow.protocol.readers import EXCERPT_CHARS, decode_body, parse_error

    config = CraftConnectionConfig(
        environment_url="https://env.example.com", sdk_token=SECRET, conn_id="c"
    )
    ctx = calls.CallContext(config)  # registers the config's secrets, as any call does
    state = ctx.policy().start()
    state.retries = 3
    request = build_get_execution(config, "e")
    body = json.dumps(
        {"message": f"refused {SECRET}", "name": f"N-{SECRET}", "request_id": f"R-{SECRET}"}
    )
    near_cut = "x" * (EXCERPT_CHARS - 8) + " " + SECRET
    failure = TransportFailure(
        FailureKind.NO_ANSWER, describe_exception(OSError("y" * (DETAIL_CHARS - 20) + SECRET))
    )
    api_error = parse_error(500, body, "application/json", operation="op")
    return {
        "parse_error json": api_error,
        "parse_error html": parse_error(502, f"<p>{near_cut}</p>", "text/html"),
        "decode_body": _raised(lambda: decode_body(200, near_cut.encode(), "application/json")),
        "classify transport": classify(request, failure).error,
        "classify 503": classify(request, Response(503, {}, body.encode())).error,
        "gave up": calls._gave_up(ctx, api_error, state),
        "gave up transport": calls._gave_up(ctx, classify(request, failure).error, state),
    }


def _raised(action):
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


def _texts(error) -> list[str]:
    import pickle

    copy = pickle.loads(pickle.dumps(error))
    return [
        str(error),
        repr(error),
        repr(error.args),
        repr(vars(error)),
        repr(error.__reduce__()),
        str(pickle.dumps(error)),
        str(copy),
        repr(copy),
        repr(vars(copy)),
    ]


def test_protocol_errors_never_carry_a_registered_secret(log_secrets):
    built = _protocol_errors()
    assert all(built.values())
    for where, error in built.items():
        for text in _texts(error):
            # Not even its first half: redaction happens before any text is shortened.
            assert SECRET[:10] not in text, f"{where}: {text}"
    assert "***" in str(built["parse_error json"]) and built["parse_error json"].name == "N-***"


def test_every_error_field_is_redacted(log_secrets):
    from craft_airflow.errors import (
        CraftAmbiguousCreation,
        CraftConfigError,
        CraftExecutionFailed,
        CraftWaitTimeout,
    )

    log_secrets([SECRET])
    errors = [
        CraftAPIError(500, f"m {SECRET}", f"n {SECRET}", f"r {SECRET}"),
        CraftAuthError(401, f"m {SECRET}", f"n {SECRET}", f"r {SECRET}"),
        CraftConnectionError(f"down {SECRET}"),
        CraftExecutionFailed(f"e {SECRET}", f"s {SECRET}", f"boom {SECRET}"),
        CraftWaitTimeout(f"e {SECRET}", f"late {SECRET}"),
        CraftWaitTimeout(f"e {SECRET}"),
        CraftAmbiguousCreation([f"a {SECRET}"], f"which {SECRET}"),
        CraftAmbiguousCreation([f"a {SECRET}"]),
        CraftConfigError(f"bad {SECRET}"),
    ]
    for error in errors:
        for text in _texts(error):
            assert SECRET not in text, f"{type(error).__name__}: {text}"
