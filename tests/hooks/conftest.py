import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from craft_fixtures import (  # noqa: F401
    closed_port_url,
    endpoint_only_conn,
    platform_conn,
    proxy,
    proxy_conn,
)
