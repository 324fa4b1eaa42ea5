from __future__ import annotations

import json
import logging

import pytest
from airflow.sdk import Connection
from airflow_compat import AIRFLOW_VERSION
from packaging.version import Version

from craft_airflow.connection import (
    DEFAULT_CONTROL_URL,
    CraftConnectionConfig,
    from_connection,
)
from craft_airflow.errors import CraftConfigError


def conn(
    host="https://env.example.com/", password="sdk-tok-123", extra=None, conn_type="craftai", **kw
):
    return Connection(
        conn_id="craft_test",
        conn_type=conn_type,
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
        ({"host": "http://127.0.0.1:"}, "host"),
        ({"host": "http://127.0.0.1:0"}, "host"),
        ({"host": "127.0.0.1:8080"}, "host"),
        ({"host": "env.example.com/base"}, "host"),
        ({"host": "://env.example.com"}, "host"),
        ({"host": "file:///etc/passwd"}, "host"),
        ({"host": "ws://env.example.com"}, "host"),
        ({"host": "127.0.0.1", "port": 70000}, "port"),
        ({"extra": {"control_url": "http://127.0.0.1:"}}, "control_url"),
        ({"extra": {"control_url": "ctl.example.com"}}, "control_url"),
        ({"extra": {"control_url": "localhost:8080"}}, "control_url"),
        ({"extra": {"control_url": "ftp://ctl.example.com"}}, "control_url"),
        ({"extra": {"max_response_bytes": "lots"}}, "max_response_bytes"),
        ({"extra": {"max_response_bytes": 0}}, "max_response_bytes"),
        ({"extra": {"transfer_timeout": 0}}, "transfer_timeout"),
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


# -- which control host gets the SDK token ------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "http://127.0.0.1:8765",
        "http://127.10.20.30",
        "http://localhost:8765/",
        "http://LOCALHOST",
        "http://[::1]:8765",
        "http://[::ffff:127.0.0.1]:8765",
        # The same address in the other spellings a resolver accepts.
        "http://2130706433:8765",
        "http://0x7f.1:8765",
        "http://0x7f000001:8765",
        "http://127.1:8765",
        "http://0177.0.0.1:8765",
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:8765",  # full-width digits
        "http://127\u30020\u30020\u30021:8765",  # ideographic full stops
        "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:8765",  # full-width
        "http://LocalHost.:8765",
        "http://app.localhost:8765",
        "http://[0:0:0:0:0:0:0:1]:8765",
        "http://[::ffff:7f00:1]:8765",
        "http://0.0.0.0:8765",
        "http://[::]:8765",
    ],
)
def test_loopback_environment_without_control_url_is_its_own_control_url(host):
    config = from_connection(conn(host=host))
    assert config.control_url == config.environment_url
    assert config.control_url != DEFAULT_CONTROL_URL


@pytest.mark.parametrize(
    "host",
    [
        "https://env.example.com",
        "http://10.0.0.5:8765",
        "http://localhost.example.com",
        "http://167772165:8765",  # 10.0.0.5
        "http://128.0.0.1:8765",
        "http://[::ffff:10.0.0.5]:8765",
        "http://127.0.0.1.example.com",
    ],
)
def test_other_environments_default_to_the_public_control_host(host):
    assert from_connection(conn(host=host)).control_url == DEFAULT_CONTROL_URL


def test_the_local_sdk_token_is_never_exchanged_at_the_public_host_because_of_a_spelling():
    from craft_airflow.protocol.builders import build_refresh

    for host in (
        "http://2130706433:8765",
        "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:1",
    ):
        refresh = build_refresh(from_connection(conn(host=host)))
        assert not refresh.url.startswith(DEFAULT_CONTROL_URL), refresh.url
        assert refresh.url.startswith(host)


def test_size_and_transfer_bounds_are_extras():
    config = from_connection(conn(extra={"max_response_bytes": "1024", "transfer_timeout": 60}))
    assert (config.max_response_bytes, config.transfer_timeout) == (1024, 60)
    defaults = from_connection(conn())
    assert defaults.max_response_bytes == 64 * 1024 * 1024
    assert defaults.transfer_timeout == 3600


def test_an_explicit_control_url_always_wins():
    config = from_connection(conn(host="http://127.0.0.1:1", extra={"control_url": "http://c:2"}))
    assert config.control_url == "http://c:2"
    assert CraftConnectionConfig(environment_url="http://127.0.0.1:5").control_url == (
        "http://127.0.0.1:5"
    )


# -- the connection type -----------------------------------------------------------------------


def test_the_current_type_warns_nothing(recwarn, caplog):
    from_connection(conn())
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
    assert not any("deprecated" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "conn_type",
    [
        "craftai",
        # The control: the warning is there to be seen where Airflow still logs it.
        pytest.param(
            "craft_ai",
            marks=pytest.mark.skipif(
                Version("3.4") <= AIRFLOW_VERSION, reason="Airflow 3.4 no longer logs it"
            ),
        ),
    ],
)
def test_a_lookup_logs_no_scheme_warning_for_the_current_type(
    conn_type, monkeypatch, caplog, capsys
):
    """Airflow logs "Connection schemes (type: …) shall not contain '_'" from
    ``Connection.get_uri``, which every secrets-backend lookup calls to cache the connection."""
    from airflow.models.connection import Connection as ModelConnection
    from airflow.sdk import BaseHook

    spec = {"conn_type": conn_type, "host": "https://env.example.com", "password": "x-tok-1"}
    monkeypatch.setenv("AIRFLOW_CONN_SCHEME_CHECK", json.dumps(spec))
    with caplog.at_level(logging.DEBUG):
        assert ModelConnection.get_connection_from_secrets("scheme_check").conn_type == conn_type
        assert BaseHook.get_connection("scheme_check").conn_type == conn_type
    # Airflow's structlog writes to the captured stdout; the stdlib records go to caplog.
    logged = capsys.readouterr().out + "\n".join(r.getMessage() for r in caplog.records)
    assert ("shall not contain '_'" in logged) == (conn_type == "craft_ai")


# -- which endpoints have a token: visible names, masked tokens ---------------------------------


@pytest.mark.parametrize("names", [["a", "b"], "a, b", "b\na", '["a", "b"]', "a b"], ids=repr)
def test_endpoints_lists_the_names_of_endpoint_tokens(names):
    config = from_connection(
        conn(extra={"endpoint_tokens": {"a": "tok-a-1", "b": "tok-b-1"}, "endpoints": names})
    )
    assert config.endpoint_tokens == {"a": "tok-a-1", "b": "tok-b-1"}


def test_endpoints_must_match_endpoint_tokens_without_echoing_tokens():
    with pytest.raises(CraftConfigError) as err:
        from_connection(
            conn(
                extra={
                    "endpoint_tokens": {"a": "tok-a-secret", "c": "tok-c-secret"},
                    "endpoints": "a, b",
                }
            )
        )
    text = str(err.value)
    assert "'endpoints'" in text and "['b'] have no token" in text and "['c']" in text
    assert "tok-a-secret" not in text and "tok-c-secret" not in text


def test_rest_api_answers_show_the_endpoint_names_but_mask_the_tokens():
    """What ``GET /api/v2/connections/{id}`` (and the UI's edit form) shows of the extras."""
    from airflow.api_fastapi.core_api.datamodels.connections import ConnectionResponse

    extra = {
        "endpoint_tokens": {"scorer": "scorer-tok-4242", "ranker": "ranker-tok-4343"},
        "endpoints": ["scorer", "ranker"],
        "endpoint_token": "default-tok-4444",
        "control_url": "https://ctl.example.com",
    }
    shown = ConnectionResponse.model_validate(
        {
            "connection_id": "c",
            "conn_type": "craftai",
            "host": "https://env.example.com",
            "password": "sdk-tok-4545",
            "extra": json.dumps(extra),
            **dict.fromkeys(("description", "login", "schema", "port", "team_name")),
        }
    )
    text = shown.model_dump_json()
    for secret in ("scorer-tok-4242", "ranker-tok-4343", "default-tok-4444", "sdk-tok-4545"):
        assert secret not in text
    assert json.loads(shown.extra)["endpoints"] == ["scorer", "ranker"]


def test_connect_retry_seconds():
    assert from_connection(conn()).connect_retry_seconds == 10
    assert (
        from_connection(conn(extra={"connect_retry_seconds": "3.5"})).connect_retry_seconds == 3.5
    )
    with pytest.raises(CraftConfigError, match="'connect_retry_seconds'"):
        from_connection(conn(extra={"connect_retry_seconds": -1}))
