"""What the protocol reads of a connection, as a structural type.

:class:`craft_airflow.connection.CraftConnectionConfig` (an Airflow connection, parsed and
validated) satisfies it; the protocol only reads, so ``protocol/`` does not import the provider's
connection handling, and a test may pass any object with these attributes.
"""

from __future__ import annotations

from typing import Protocol

#: Default of ``live_logs_interval``: seconds between two reads of a running execution's new log
#: lines (chosen from measurements: ``docs/operators/live-logs.md``).
DEFAULT_LIVE_LOGS_INTERVAL = 3.0
#: The shortest ``live_logs_interval`` accepted.
MIN_LIVE_LOGS_INTERVAL = 1.0


class ClientConfig(Protocol):
    """The settings of one platform client. Units: seconds, bytes."""

    @property
    def conn_id(self) -> str | None:
        """The Airflow connection id, for error texts."""

    @property
    def environment_url(self) -> str:
        """The environment root (``ENV`` in the contract), no trailing slash."""

    @property
    def control_url(self) -> str:
        """The control root (``CTL``), no trailing slash."""

    @property
    def sdk_token(self) -> str | None:
        """The SDK (refresh) token, if any."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value held, for redaction."""

    @property
    def request_timeout(self) -> float:
        """Deadline of one attempt of an ordinary call."""

    @property
    def long_poll_timeout(self) -> float:
        """Deadline of one attempt of a long-poll call."""

    @property
    def connect_timeout(self) -> float:
        """Connect timeout of one attempt."""

    @property
    def transfer_timeout(self) -> float:
        """Deadline of one attempt moving a file."""

    @property
    def max_response_bytes(self) -> int:
        """The largest answer read into memory."""

    @property
    def max_retries(self) -> int:
        """Retries of one call after transient failures."""

    @property
    def max_retry_seconds(self) -> float:
        """Total time one call may spend retrying once the platform answered."""

    @property
    def connect_retry_seconds(self) -> float:
        """Total time one call may spend retrying before the host first answered."""
