"""Settings of one embedded platform process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from craft_airflow.local.faults import FaultSettings

DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_CODE_BYTES = 50 * 1024 * 1024
# The SDK documents "0.06 MB" for all non-file values; we read it as 60,000 bytes of the
# JSON text of those values (open question 10 of the contract).
MAX_JSON_INPUTS_BYTES = 60_000


@dataclass
class PlatformConfig:
    """Everything ``craft-local serve`` can be told.

    :param data_dir: where SQLite, code, files and logs live.
    :param sdk_token: the only accepted refresh (SDK) token.
    :param pipelines_dir: folder of declared pipelines loaded at start, if any.
    :param max_concurrency: executions running at once; the rest wait as ``Pending``.
    :param long_poll_seconds: how long a waiting request is held before ``307``.
    :param jwt_lifetime: access-token lifetime in seconds.
    :param max_request_bytes: largest accepted request body (413 above).
    :param max_code_bytes: largest uncompressed pipeline code archive.
    :param shutdown_grace_seconds: on a graceful stop, how long running executions may take to
        finish before they are killed (and marked ``Error``).
    """

    data_dir: Path
    sdk_token: str
    pipelines_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8765
    max_concurrency: int = 4
    long_poll_seconds: float = 5.0
    jwt_lifetime: int = 3600
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_code_bytes: int = DEFAULT_MAX_CODE_BYTES
    shutdown_grace_seconds: float = 30.0
    faults: FaultSettings = field(default_factory=FaultSettings)
