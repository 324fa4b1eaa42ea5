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


# -- each redaction pattern has a case only it catches ---------------------------------------

#: ``(text, secret)``: for each pattern of ``errors._PATTERNS``, a text holding a secret that
#: pattern alone hides (none of the others would).
OWN_CASES = [
    pytest.param(
        "GET /endpoints/v1/p/executions/e?token=Q9own-query&x=1", "Q9own-query", id="query"
    ),
    pytest.param('{"refresh_token": "Q9own json field"}', "Q9own json field", id="json-field"),
    pytest.param("retried with Bearer Q9own-scheme.value", "Q9own-scheme.value", id="scheme"),
    pytest.param("{'authorization': 'Token Q9own-header'}", "Q9own-header", id="header"),
    pytest.param("saw eyJhbGciOiJub25lIn0.eyJzdWIiOiJxIn0.Q9own-sig", "Q9own-sig", id="jwt"),
]


def _catchers(text: str, secret: str) -> list:
    """The patterns that, each alone, hide ``secret`` in ``text``."""
    from craft_airflow.errors import _PATTERNS

    return [(p, r) for p, r in _PATTERNS if secret not in p.sub(r, text)]


@pytest.mark.parametrize(("text", "secret"), OWN_CASES)
def test_each_case_is_caught_by_one_pattern_only(text, secret):
    from craft_airflow.errors import redact

    assert secret not in redact(text)
    assert len(_catchers(text, secret)) == 1, _catchers(text, secret)


def test_every_pattern_has_its_own_case():
    from craft_airflow.errors import _PATTERNS

    owned = [_catchers(text, secret)[0] for text, secret in (c.values for c in OWN_CASES)]
    assert sorted(_PATTERNS.index(p) for p in owned) == list(range(len(_PATTERNS)))


@pytest.mark.parametrize(("text", "secret"), OWN_CASES)
def test_without_its_pattern_the_case_leaks(monkeypatch, text, secret):
    """Dropping (or neutralising) the one pattern of a case makes the full redaction leak it:
    no other pattern, in the order they run, covers for it."""
    from craft_airflow import errors

    (own,) = _catchers(text, secret)
    assert secret not in errors.redact(text)
    monkeypatch.setattr(errors, "_PATTERNS", tuple(p for p in errors._PATTERNS if p != own))
    assert secret in errors.redact(text)
    assert secret in str(errors.CraftError(text))
