"""Parse an Airflow connection of type ``craftai`` into a :class:`CraftConnectionConfig`.

Connection fields: ``host`` = environment URL (``https://...``; a bare host name gets
``https://``, or the ``schema`` field when it is ``http``/``https``), ``port`` optional,
``password`` = SDK token (optional: a connection may hold endpoint tokens only).

Extras (all optional): ``control_url``, ``endpoint_token``, ``endpoint_tokens`` (JSON object
deployment name -> token), ``endpoints`` (the names of ``endpoint_tokens``, shown in clear),
``verify_tls``, ``request_timeout``, ``long_poll_timeout``, ``execution_url_template``,
``output_storage``, ``max_retries``, ``max_retry_seconds``, ``connect_retry_seconds``,
``transfer_timeout``, ``max_response_bytes``, ``live_logs``, ``live_logs_interval``.

The type is ``craftai``: Airflow warns about an ``_`` in a connection type at every lookup
(RFC 3986 schemes), and turns ``-`` into ``_``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from craft_airflow.errors import CraftConfigError, register_log_secrets
from craft_airflow.protocol.config import DEFAULT_LIVE_LOGS_INTERVAL, MIN_LIVE_LOGS_INTERVAL

if TYPE_CHECKING:
    from airflow.sdk import Connection

log = logging.getLogger(__name__)

CONN_TYPE = "craftai"
DEFAULT_CONTROL_URL = "https://mlops-platform.craft.ai"
# Contract §10.5: no deep-link pattern for an execution is known. This default points at the
# web UI host; users with a known pattern set ``execution_url_template``.
DEFAULT_EXECUTION_URL_TEMPLATE = "{control_url}/executions/{execution_id}"
TEMPLATE_FIELDS = frozenset(
    {"control_url", "environment_url", "execution_id", "pipeline_name", "deployment_name"}
)

EXTRA_KEYS = frozenset(
    {
        "control_url",
        "endpoint_token",
        "endpoint_tokens",
        "verify_tls",
        "request_timeout",
        "long_poll_timeout",
        "execution_url_template",
        "output_storage",
        "max_retries",
        "max_retry_seconds",
        "connect_retry_seconds",
        "endpoints",
        "transfer_timeout",
        "max_response_bytes",
        "live_logs",
        "live_logs_interval",
    }
)

#: Default of the ``max_response_bytes`` extra: the largest answer read into memory (JSON,
#: error bodies; file downloads are streamed and not bounded by it).
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


def check_live_logs_interval(value: Any, *, name: str, conn_id: str | None = None) -> float:
    """``value`` as seconds between two live log reads; refused below
    :data:`~craft_airflow.protocol.config.MIN_LIVE_LOGS_INTERVAL` or when not a number (the
    message names ``name``)."""
    where = f"Connection {conn_id!r}: " if conn_id else ""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if isinstance(value, bool) or not seconds >= MIN_LIVE_LOGS_INTERVAL:
        raise CraftConfigError(
            f"{where}{name} must be a number of seconds >= {MIN_LIVE_LOGS_INTERVAL:g}, "
            f"got {value!r}"
        )
    return seconds


@dataclass(frozen=True)
class CraftConnectionConfig:
    """Everything the hooks need from a connection, validated.

    :param environment_url: environment root, no trailing slash (``ENV`` in the contract).
    :param control_url: control root, no trailing slash (``CTL``); empty: decided by
        :func:`resolve_control_url`.
    :param sdk_token: SDK token (refresh token), or ``None`` for endpoint-token-only use.
    :param default_endpoint_token: endpoint token used for any deployment without its own.
    :param endpoint_tokens: per-deployment endpoint tokens.
    :param verify_tls: verify TLS certificates.
    :param request_timeout: deadline of one attempt of an ordinary call (sending, waiting,
        reading the whole answer), seconds; also its read timeout.
    :param long_poll_timeout: the same for long-poll calls, above the server's hold.
    :param transfer_timeout: deadline of one attempt moving a file (a download, headers and
        every byte; a request with file parts), seconds.
    :param max_response_bytes: the largest answer read into memory (downloads are streamed).
    :param execution_url_template: ``str.format`` template for the web UI link.
    :param output_storage: base URI where operators store file outputs.
    :param max_retries: retries of one call after transient failures.
    :param max_retry_seconds: total time one call may spend retrying once the platform answered.
    :param connect_retry_seconds: total time one call may spend retrying while the host it
        calls has not answered yet (first contact: refused, name not found, connect timeout).
    :param live_logs: show a running execution's new log lines and status changes in the task
        log while the task waits (a task's ``live_logs`` argument overrides it).
    :param live_logs_interval: seconds between two reads of them.
    """

    environment_url: str
    control_url: str = ""
    sdk_token: str | None = field(default=None, repr=False)
    default_endpoint_token: str | None = field(default=None, repr=False)
    endpoint_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)
    verify_tls: bool = True
    request_timeout: float = 30.0
    long_poll_timeout: float = 150.0
    connect_timeout: float = 10.0
    transfer_timeout: float = 3600.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    execution_url_template: str = DEFAULT_EXECUTION_URL_TEMPLATE
    output_storage: str | None = None
    max_retries: int = 10
    max_retry_seconds: float = 120.0
    connect_retry_seconds: float = 10.0
    live_logs: bool = True
    live_logs_interval: float = DEFAULT_LIVE_LOGS_INTERVAL
    conn_id: str | None = None

    def __post_init__(self) -> None:
        if not self.control_url:
            resolved = resolve_control_url(self.environment_url, None)
            object.__setattr__(self, "control_url", resolved)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value held, for masking and redaction."""
        values = [self.sdk_token, self.default_endpoint_token, *self.endpoint_tokens.values()]
        return tuple(v for v in values if v)

    def endpoint_token_for(self, name: str) -> str | None:
        """Return the endpoint token for deployment ``name`` (its own, else the default)."""
        return self.endpoint_tokens.get(name) or self.default_endpoint_token

    def require_endpoint_token(self, name: str) -> str:
        """The endpoint token for deployment ``name``.

        :raises CraftConfigError: the connection has none for it.
        """
        token = self.endpoint_token_for(name)
        if token is None:
            raise CraftConfigError(
                f"Connection {self.conn_id!r} has no endpoint token for {name!r}: "
                "set extra 'endpoint_token' or 'endpoint_tokens'."
            )
        return token

    def execution_url(
        self,
        execution_id: str,
        pipeline_name: str | None = None,
        deployment_name: str | None = None,
    ) -> str:
        """Return the web UI URL of an execution, from ``execution_url_template``."""
        return self.execution_url_template.format(
            control_url=self.control_url,
            environment_url=self.environment_url,
            execution_id=quote(execution_id, safe=""),
            pipeline_name=quote(pipeline_name or "", safe=""),
            deployment_name=quote(deployment_name or "", safe=""),
        )


def _fail(conn_id: str | None, field_name: str, problem: str) -> CraftConfigError:
    return CraftConfigError(f"Connection {conn_id!r}: field {field_name!r} {problem}")


def normalize_url(value: str, *, conn_id: str | None, field_name: str) -> str:
    """Validate an http(s) root URL and return it without a trailing slash.

    Refused, naming the field: no scheme, a scheme other than ``http``/``https``, no host, an
    empty or out-of-range port, a query, fragment or credentials.
    """
    value = (value or "").strip()
    if not value:
        raise _fail(conn_id, field_name, "is empty; expected an http(s) URL")
    if any(c.isspace() or not c.isprintable() for c in value):
        # Not echoed: a malformed URL may still hold credentials.
        raise _fail(
            conn_id, field_name, "must not contain spaces or control characters; expected a URL"
        )
    if "://" not in value:
        raise _fail(
            conn_id, field_name, "has no scheme; expected an absolute http:// or https:// URL"
        )
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a malformed or out-of-range port
    except ValueError as exc:
        raise _fail(conn_id, field_name, f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _fail(
            conn_id,
            field_name,
            f"has the scheme {parts.scheme!r}; expected an absolute http:// or https:// URL",
        )
    if not parts.hostname:
        raise _fail(
            conn_id, field_name, "has no host; expected an absolute http:// or https:// URL"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        # A query could carry a token; credentials belong in the password field.
        raise _fail(conn_id, field_name, "must not contain a query, fragment or credentials")
    if parts.netloc.endswith(":") or port == 0:
        raise _fail(conn_id, field_name, "has an empty port; expected a port from 1 to 65535")
    return value.rstrip("/")


def _normalised_host(host: str) -> str:
    """``host`` as a resolver would read it: NFKC (full-width digits and letters become ASCII),
    IDNA-mapped, lower case, without a trailing dot or an IPv6 zone."""
    host = unicodedata.normalize("NFKC", host).strip("[]").rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return host
    return host.partition("%")[0]


def _ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, in any form the C library accepts (``2130706433``,
    ``0x7f.1``, ``127.1``, ``0177.0.0.1``, IPv6), else ``None`` (a name)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine: ``localhost`` (and ``*.localhost``), 127.0.0.0/8
    or ``::1``, however spelled (decided on the normalised address, never on the spelling)."""
    try:
        raw_host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    host = _normalised_host(raw_host)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = _ip_of(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # 0.0.0.0 and :: reach this machine too when connected to.
    return address.is_loopback or address.is_unspecified


def resolve_control_url(environment_url: str, control_url: str | None) -> str:
    """The control URL a connection's SDK token is exchanged at (the one place deciding it).

    ``control_url`` when set; else the environment URL itself when that is a loopback URL (a
    platform on this machine, e.g. the embedded one: its SDK token must never travel to the
    public control host); else :data:`DEFAULT_CONTROL_URL`.
    """
    if control_url is not None:
        return control_url
    if is_loopback_url(environment_url):
        return environment_url
    return DEFAULT_CONTROL_URL


def _as_bool(value: Any, *, conn_id: str | None, field_name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise _fail(conn_id, field_name, f"must be true or false, got {value!r}")


def _as_number(value: Any, *, conn_id: str | None, field_name: str, integer: bool = False) -> Any:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise _fail(conn_id, field_name, f"must be {kind}, got {value!r}") from None
    if number < 0:
        raise _fail(conn_id, field_name, "must not be negative")
    return number


def _as_token_map(value: Any, *, conn_id: str | None) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            # Never echo the value: it holds tokens.
            raise _fail(
                conn_id,
                "endpoint_tokens",
                "is not valid JSON; expected a JSON object of deployment name -> token",
            ) from None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        raise _fail(conn_id, "endpoint_tokens", "must be a JSON object of deployment name -> token")
    return dict(value)


def _as_names(value: Any, *, conn_id: str | None) -> list[str]:
    """The ``endpoints`` extra: a JSON list, or names separated by commas or new lines."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise _fail(conn_id, "endpoints", "is not a valid JSON list of names") from None
        else:
            value = [n for n in re.split(r"[,\s]+", text) if n]
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        raise _fail(
            conn_id,
            "endpoints",
            "must list deployment names (a JSON list, or names separated by commas or new lines)",
        )
    return [n.strip() for n in value]


def _check_endpoint_names(
    names: list[str], tokens: Mapping[str, str], *, conn_id: str | None
) -> None:
    """The visible ``endpoints`` list must name exactly the deployments of ``endpoint_tokens``
    (names are not secret; the tokens are never echoed)."""
    without_token = sorted(set(names) - set(tokens))
    not_listed = sorted(set(tokens) - set(names))
    if without_token or not_listed:
        problems = []
        if without_token:
            problems.append(f"{without_token} have no token in 'endpoint_tokens'")
        if not_listed:
            problems.append(f"'endpoint_tokens' has tokens for {not_listed}, missing here")
        raise _fail(
            conn_id,
            "endpoints",
            "must list the deployments of 'endpoint_tokens': " + "; ".join(problems),
        )


def _check_template(template: str, *, conn_id: str | None) -> str:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise _fail(conn_id, "execution_url_template", f"is malformed ({exc})") from None
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise _fail(
            conn_id,
            "execution_url_template",
            f"uses unknown placeholders {sorted(unknown)}; allowed: {sorted(TEMPLATE_FIELDS)}",
        )
    return template


def _environment_url(conn: Connection) -> str:
    host = (conn.host or "").strip()
    if not host:
        raise _fail(conn.conn_id, "host", "is empty; expected the environment URL")
    if "://" not in host:
        if any(c in host for c in ":/?#@"):
            # "127.0.0.1:8080" is a URL without its scheme, not a host name.
            raise _fail(
                conn.conn_id,
                "host",
                "has no scheme; expected an absolute http:// or https:// URL (or a bare host name)",
            )
        scheme = conn.schema if conn.schema in ("http", "https") else "https"
        host = f"{scheme}://{host}"
    url = normalize_url(host, conn_id=conn.conn_id, field_name="host")
    if conn.port and urlsplit(url).port is None:
        if not 0 < conn.port < 65536:
            raise _fail(conn.conn_id, "port", "must be from 1 to 65535")
        parts = urlsplit(url)
        url = parts._replace(netloc=f"{parts.netloc}:{conn.port}").geturl()
    return url


def from_connection(
    conn: Connection, *, mask: bool = True, extras: Mapping[str, Any] | None = None
) -> CraftConnectionConfig:
    """Build and validate a :class:`CraftConnectionConfig` from an Airflow connection.

    :param conn: the Airflow connection.
    :param mask: register every secret with Airflow's secrets masker (async callers pass
        ``False`` and call :func:`amask_secrets` instead).
    :param extras: the connection's extras already decoded (async callers decode them with
        ``aextra_dejson``); read from ``conn.extra_dejson`` when not given.
    :raises CraftConfigError: naming the connection and the offending field.
    """
    conn_id = conn.conn_id
    if extras is None:
        try:
            extras = conn.extra_dejson or {}
        except Exception:
            raise _fail(conn_id, "extra", "is not a valid JSON object") from None
    if not isinstance(extras, Mapping):
        raise _fail(conn_id, "extra", "is not a JSON object")

    extras = dict(extras)

    def opt(key: str) -> Any:
        value = extras.get(key)
        return None if value is None or value == "" else value

    kwargs: dict[str, Any] = {"conn_id": conn_id}
    kwargs["environment_url"] = _environment_url(conn)
    if opt("control_url") is not None:
        kwargs["control_url"] = normalize_url(
            str(extras["control_url"]), conn_id=conn_id, field_name="control_url"
        )
    kwargs["sdk_token"] = conn.password or None
    if opt("endpoint_token") is not None:
        kwargs["default_endpoint_token"] = str(extras["endpoint_token"])
    if opt("endpoint_tokens") is not None:
        kwargs["endpoint_tokens"] = _as_token_map(extras["endpoint_tokens"], conn_id=conn_id)
    if opt("endpoints") is not None:
        _check_endpoint_names(
            _as_names(extras["endpoints"], conn_id=conn_id),
            kwargs.get("endpoint_tokens", {}),
            conn_id=conn_id,
        )
    if opt("verify_tls") is not None:
        kwargs["verify_tls"] = _as_bool(
            extras["verify_tls"], conn_id=conn_id, field_name="verify_tls"
        )
    for key in (
        "request_timeout",
        "long_poll_timeout",
        "max_retry_seconds",
        "connect_retry_seconds",
        "transfer_timeout",
    ):
        if opt(key) is not None:
            kwargs[key] = _as_number(extras[key], conn_id=conn_id, field_name=key)
    for key in ("max_retries", "max_response_bytes"):
        if opt(key) is not None:
            kwargs[key] = _as_number(extras[key], conn_id=conn_id, field_name=key, integer=True)
    if opt("live_logs") is not None:
        kwargs["live_logs"] = _as_bool(extras["live_logs"], conn_id=conn_id, field_name="live_logs")
    if opt("live_logs_interval") is not None:
        kwargs["live_logs_interval"] = check_live_logs_interval(
            extras["live_logs_interval"], name="extra live_logs_interval", conn_id=conn_id
        )
    if opt("execution_url_template") is not None:
        kwargs["execution_url_template"] = _check_template(
            str(extras["execution_url_template"]), conn_id=conn_id
        )
    if opt("output_storage") is not None:
        kwargs["output_storage"] = str(extras["output_storage"]).rstrip("/")
    for key in ("request_timeout", "long_poll_timeout", "transfer_timeout", "max_response_bytes"):
        if key in kwargs and kwargs[key] == 0:
            raise _fail(conn_id, key, "must be positive")

    config = CraftConnectionConfig(**kwargs)
    if mask:
        mask_secrets(config)
    return config


def mask_secrets(config: CraftConnectionConfig) -> None:
    """Register the config's secrets with Airflow's secrets masker (and with the log filter of
    the HTTP libraries, whose records may not go through the masker)."""
    register_log_secrets(config.secrets)
    for secret in config.secrets:
        mask_secret(secret)


async def amask_secrets(config: CraftConnectionConfig) -> None:
    """Async variant of :func:`mask_secrets`, safe on the triggerer's event loop."""
    register_log_secrets(config.secrets)
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow 3.1: no async variant; the sync one only touches memory there.
        mask_secrets(config)
        return
    for secret in config.secrets:
        await amask_secret(secret)


def mask_secret(value: str) -> None:
    """Register one secret value with Airflow's secrets masker."""
    try:
        from airflow.sdk.log import mask_secret as mask
    except ImportError:  # pragma: no cover - older task-sdk layouts
        from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[no-redef]
            mask_secret as mask,
        )
    mask(value)
