"""craft_airflow.errors: redaction and the exceptions."""

from __future__ import annotations

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
