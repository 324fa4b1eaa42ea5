"""The Airflow connection that reaches an embedded platform, as ``craft-local serve`` prints it.

The SDK token is never printed: the commands read it from a shell variable the user fills in.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from typing import Any

#: ``CraftAIHook.conn_type`` and ``default_conn_name`` (not imported: that pulls in Airflow).
CONN_TYPE = "craftai"
CONN_ID = "craft_ai_default"
#: The variable the printed commands read the SDK token from (``craft-local`` reads it too).
TOKEN_VARIABLE = "CRAFT_LOCAL_SDK_TOKEN"

_PLACEHOLDER = "@@craft-sdk-token@@"


def reachable_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server listening on ``host:port``.

    :param host: the listening interface; a wildcard (``0.0.0.0``, ``::``) becomes loopback.
    :param port: the bound port.
    """
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}"


def connection_extra(url: str, endpoint_tokens: dict[str, str] | None = None) -> dict[str, Any]:
    """The extras of a connection to the platform at ``url``: it is its own control URL.

    :param endpoint_tokens: ``{deployment: endpoint token}`` to add, if any.
    """
    extra: dict[str, Any] = {"control_url": url}
    if endpoint_tokens:
        extra["endpoint_tokens"] = endpoint_tokens
    return extra


def connection_json(url: str, sdk_token: str, endpoint_tokens: dict[str, str] | None = None) -> str:
    """The connection as the JSON of an ``AIRFLOW_CONN_<ID>`` variable.

    :param url: the platform's URL (environment URL and control URL).
    :param sdk_token: the SDK token.
    :param endpoint_tokens: as for :func:`connection_extra`.
    """
    return json.dumps(
        {
            "conn_type": CONN_TYPE,
            "host": url,
            "password": sdk_token,
            "extra": connection_extra(url, endpoint_tokens),
        }
    )


def connection_commands(url: str, token_variable: str = TOKEN_VARIABLE) -> str:
    """Shell lines defining the default connection to the platform at ``url``: an
    ``export AIRFLOW_CONN_...`` and, as the alternative, ``airflow connections add``.

    :param token_variable: the shell variable holding the SDK token (its value is never shown).
        The ``export`` line puts it inside a JSON string, so there it must hold no ``"`` or
        ``\\`` (SDK tokens do not); ``airflow connections add`` takes any value.
    """
    variable = f'"${token_variable}"'
    before, after = connection_json(url, _PLACEHOLDER).split(f'"{_PLACEHOLDER}"')
    env_value = shlex.quote(before + '"') + variable + shlex.quote('"' + after)
    extra = shlex.quote(json.dumps(connection_extra(url)))
    return "\n".join(
        [
            f"Airflow connection to this platform ({token_variable}: the SDK token it was"
            " started with):",
            f"  export AIRFLOW_CONN_{CONN_ID.upper()}={env_value}",
            "or",
            f"  airflow connections add {CONN_ID} --conn-type {CONN_TYPE}"
            f" --conn-host {shlex.quote(url)} --conn-password {variable} --conn-extra {extra}",
        ]
    )
