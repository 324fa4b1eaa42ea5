import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from craft_fixtures import (  # noqa: F401
    closed_port_url,
    endpoint_only_conn,
    platform_conn,
    proxy,
    proxy_conn,
)


@pytest.fixture(autouse=True)
def _isolated_log_secrets(log_secrets):
    """Each test registers the secrets its hooks read and leaves none."""
