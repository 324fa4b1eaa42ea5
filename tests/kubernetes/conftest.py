"""The embedded platform with ``--runtime kubernetes`` against a real cluster.

``make test-kubernetes`` sets the cluster up (``tools/k8s-local.sh``), starts it, runs this
folder with ``CRAFT_TEST_KUBECONFIG`` set, and stops it. Without that variable the folder is
not collected (``tests/conftest.py``): the default ``make test`` needs no cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from kube_kit import Cluster, runtime_env
from platform_kit import EXAMPLES, TOKEN, Api

from craft_local.server import EmbeddedPlatform


def _kubeconfig() -> str:
    kubeconfig = os.environ.get("CRAFT_TEST_KUBECONFIG")
    if not kubeconfig:
        raise pytest.UsageError(
            "tests/kubernetes needs a cluster: run `make test-kubernetes` "
            "(or set CRAFT_TEST_KUBECONFIG)"
        )
    return kubeconfig


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    cluster = Cluster(_kubeconfig())
    cluster.ensure_namespace()
    return cluster


@pytest.fixture(autouse=True)
def nothing_left_behind(cluster: Cluster) -> Iterator[None]:
    """Every test ends with no Job and no pod of the platform in the namespace."""
    yield
    cluster.assert_nothing_left()


@pytest.fixture
def start_platform(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., EmbeddedPlatform]]:
    """Start platforms on the Kubernetes runtime; all are stopped at the end of the test."""
    started: list[EmbeddedPlatform] = []

    def start(*extra: str, env: dict[str, str] | None = None) -> EmbeddedPlatform:
        platform = EmbeddedPlatform(
            tmp_path_factory.mktemp("k8s-platform"),
            sdk_token=TOKEN,
            pipelines_dir=EXAMPLES,
            extra_args=["--long-poll-seconds", "0.5", *extra],
            env={**runtime_env(cluster.kubeconfig), **(env or {})},
        )
        started.append(platform)
        return platform.start()

    yield start
    for platform in started:
        platform.stop()


@pytest.fixture
def platform(start_platform: Callable[..., EmbeddedPlatform]) -> EmbeddedPlatform:
    return start_platform()


@pytest.fixture
def api(platform: EmbeddedPlatform) -> Iterator[Api]:
    client = Api(platform.url, TOKEN)
    yield client
    client.http.close()
