"""Every route driven from the platform's own OpenAPI schema (Schemathesis), over real HTTP.

Generated paths, query strings, headers and bodies (valid and not) go to one real server on
127.0.0.1: no answer may be a 5xx, the server must still answer afterwards, and its resident
memory must stay bounded. ``CRAFT_FUZZ_EXAMPLES`` sets the examples per operation (small by
default, for CI; ``make fuzz`` runs a larger campaign).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from platform_kit import Api, start_platform

from craft_local.app import openapi_schema
from craft_local.server import EmbeddedPlatform

EXAMPLES = int(os.environ.get("CRAFT_FUZZ_EXAMPLES", "10"))
#: Resident memory the server may reach during the campaign (it idles near 100 MB).
MAX_RSS_BYTES = 400 * 1024 * 1024

schema = schemathesis.openapi.from_dict(openapi_schema())


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


class Target:
    """The fuzzed server, a JWT for it, and the peak RSS seen."""

    def __init__(self, platform: EmbeddedPlatform) -> None:
        self.platform = platform
        self.pid = platform._proc.pid if platform._proc else 0
        self.headers = {"Authorization": f"Bearer {Api(platform.url, platform.sdk_token).jwt()}"}
        self.peak_rss = rss_bytes(self.pid)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    platform = start_platform(
        tmp_path_factory.mktemp("fuzzed"), "--long-poll-seconds", "0.2", "--max-concurrency", "2"
    )
    try:
        yield Target(platform)
    finally:
        platform.stop()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_route_answers_5xx(case: schemathesis.Case, target: Target) -> None:
    response = case.call(base_url=target.platform.url, headers=target.headers, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}:"
        f" {response.text[:500]}"
    )
    target.peak_rss = max(target.peak_rss, rss_bytes(target.pid))


def test_the_server_survived_with_bounded_memory(target: Target) -> None:
    """Runs after the campaign (same module, same server)."""
    assert target.platform.running
    answer = httpx.get(f"{target.platform.url}/api/v1/environment-info", timeout=10)
    assert answer.status_code == 200
    print(f"fuzzed server peak RSS: {target.peak_rss / 2**20:.0f} MiB")
    assert target.peak_rss < MAX_RSS_BYTES
