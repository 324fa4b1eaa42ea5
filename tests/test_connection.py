from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from craft_airflow.connection import (
    DEFAULT_CONTROL_URL,
    CraftConnectionConfig,
    from_connection,
)
from craft_airflow.errors import CraftConfigError


def conn(host="https://env.example.com/", password="sdk-tok-123", extra=None, **kw):
    return Connection(
        conn_id="craft_test",
        conn_type="craft_ai",
        host=host,
        password=password,
        extra=json.dumps(extra) if isinstance(extra, dict) else extra,
        **kw,
    )


def test_defaults():
    config = from_connection(conn())
    assert config.environment_url == "https://env.example.com"
    assert config.control_url == DEFAULT_CONTROL_URL
    assert config.sdk_token == "sdk-tok-123"
    assert config.default_endpoint_token is None
    assert config.endpoint_tokens == {}
    assert config.verify_tls is True
    assert config.request_timeout == 30
    assert config.long_poll_timeout == 150
    assert config.output_storage is None
    assert config.max_retries == 10
    assert config.conn_id == "craft_test"
    assert "sdk-tok-123" not in repr(config)


def test_every_extra():
    config = from_connection(
        conn(
            extra={
                "control_url": "http://ctl.local:8080/",
                "endpoint_token": "ep-default-1",
                "endpoint_tokens": json.dumps({"scorer": "ep-scorer-1"}),
                "verify_tls": "false",
                "request_timeout": "12.5",
                "long_poll_timeout": 200,
                "execution_url_template": "{control_url}/p/{pipeline_name}/e/{execution_id}",
                "output_storage": "s3://bucket/craft/",
                "max_retries": "2",
                "max_retry_seconds": 9,
            }
        )
    )
    assert config.control_url == "http://ctl.local:8080"
    assert config.default_endpoint_token == "ep-default-1"
    assert config.endpoint_tokens == {"scorer": "ep-scorer-1"}
    assert config.endpoint_token_for("scorer") == "ep-scorer-1"
    assert config.endpoint_token_for("other") == "ep-default-1"
    assert config.verify_tls is False
    assert config.request_timeout == 12.5
    assert config.long_poll_timeout == 200
    assert config.output_storage == "s3://bucket/craft"
    assert config.max_retries == 2
    assert config.max_retry_seconds == 9
    assert (
        config.execution_url("ex 1", pipeline_name="p/q")
        == "http://ctl.local:8080/p/p%2Fq/e/ex%201"
    )
    assert set(config.secrets) == {"sdk-tok-123", "ep-default-1", "ep-scorer-1"}


def test_endpoint_tokens_as_object_and_no_sdk_token():
    config = from_connection(conn(password=None, extra={"endpoint_tokens": {"a": "tok-a-1"}}))
    assert config.sdk_token is None
    assert config.endpoint_token_for("a") == "tok-a-1"
    assert config.endpoint_token_for("b") is None


def test_bare_host_schema_and_port():
    assert from_connection(conn(host="env.example.com")).environment_url == (
        "https://env.example.com"
    )
    config = from_connection(conn(host="127.0.0.1", schema="http", port=8765))
    assert config.environment_url == "http://127.0.0.1:8765"
    assert from_connection(conn(host="http://h:1/base/")).environment_url == "http://h:1/base"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"host": ""}, "host"),
        ({"host": "ftp://env.example.com"}, "host"),
        ({"host": "https://env.example.com?token=abc"}, "host"),
        ({"host": "https://user:pw@env.example.com"}, "host"),
        ({"host": "http://h:99999"}, "host"),
        ({"extra": {"control_url": "not a url"}}, "control_url"),
        ({"extra": {"verify_tls": "maybe"}}, "verify_tls"),
        ({"extra": {"request_timeout": "fast"}}, "request_timeout"),
        ({"extra": {"request_timeout": 0}}, "request_timeout"),
        ({"extra": {"max_retries": "-1"}}, "max_retries"),
        ({"extra": {"max_retries": "1.5"}}, "max_retries"),
        ({"extra": {"endpoint_tokens": "{not json"}}, "endpoint_tokens"),
        ({"extra": {"endpoint_tokens": ["x"]}}, "endpoint_tokens"),
        ({"extra": {"execution_url_template": "{control_url}/{run_id}"}}, "execution_url_template"),
        ({"extra": {"execution_url_template": "{control_url"}}, "execution_url_template"),
    ],
)
def test_invalid_values_name_the_connection_and_field(kwargs, field):
    with pytest.raises(CraftConfigError) as err:
        from_connection(conn(**kwargs))
    assert "'craft_test'" in str(err.value)
    assert f"'{field}'" in str(err.value)


def test_bad_endpoint_tokens_message_does_not_echo_tokens():
    with pytest.raises(CraftConfigError) as err:
        from_connection(conn(extra={"endpoint_tokens": '{"a": "secret-tok-9"'}))
    assert "secret-tok-9" not in str(err.value)


def test_secrets_are_registered_with_the_masker():
    from airflow.sdk._shared.secrets_masker import redact as airflow_redact

    from_connection(
        conn(password="masked-sdk-77", extra={"endpoint_tokens": {"d": "masked-ep-88"}})
    )
    text = airflow_redact("a masked-sdk-77 b masked-ep-88")
    assert "masked-sdk-77" not in text
    assert "masked-ep-88" not in text


def test_config_is_frozen():
    config = CraftConnectionConfig(environment_url="https://e")
    with pytest.raises(AttributeError):
        config.sdk_token = "x"  # type: ignore[misc]
