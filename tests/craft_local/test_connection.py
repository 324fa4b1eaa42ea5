"""The connection ``craft-local serve`` prints: valid shell, the platform as its own control URL,
the SDK token only as a variable."""

from __future__ import annotations

import json

import pytest
from platform_kit import run_printed

from craft_local.connection import (
    CONN_ID,
    CONN_TYPE,
    TOKEN_VARIABLE,
    connection_commands,
    connection_json,
    reachable_url,
)

TOKEN = "printed-conn-sdk-token-c41d"


def test_the_printed_lines_define_the_connection_with_the_token_from_the_variable() -> None:
    url = "http://127.0.0.1:8765"
    commands = connection_commands(url)
    assert TOKEN not in commands
    assert f'"${TOKEN_VARIABLE}"' in commands
    ran = run_printed(commands, TOKEN)
    assert ran["exported"] == {
        "conn_type": CONN_TYPE,
        "host": url,
        "password": TOKEN,
        "extra": {"control_url": url},
    }
    argv = ran["argv"]
    assert argv[:3] == ["connections", "add", CONN_ID]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options["--conn-type"] == CONN_TYPE
    assert options["--conn-host"] == url
    assert options["--conn-password"] == TOKEN
    assert json.loads(options["--conn-extra"]) == {"control_url": url}


def test_a_token_with_shell_characters_survives_the_quoting() -> None:
    token = "a'b $HOME `x` ;&|*"
    ran = run_printed(connection_commands("http://127.0.0.1:1"), token)
    assert ran["exported"]["password"] == token
    assert dict(zip(ran["argv"][3::2], ran["argv"][4::2], strict=True))["--conn-password"] == token


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:80"),
        ("0.0.0.0", "http://127.0.0.1:80"),
        ("::", "http://[::1]:80"),
        ("::1", "http://[::1]:80"),
        ("localhost", "http://localhost:80"),
    ],
)
def test_reachable_url(host: str, url: str) -> None:
    assert reachable_url(host, 80) == url


def test_connection_json_carries_endpoint_tokens() -> None:
    value = json.loads(connection_json("http://h:1", "t", {"dep": "e"}))
    assert value["extra"] == {"control_url": "http://h:1", "endpoint_tokens": {"dep": "e"}}


def test_the_names_are_the_hooks() -> None:
    from craft_airflow.hooks.craft import CraftAIHook

    assert CraftAIHook.conn_type == CONN_TYPE
    assert CraftAIHook.default_conn_name == CONN_ID
