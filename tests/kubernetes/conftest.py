"""The embedded platform with ``--runtime kubernetes`` against a real cluster.

``make test-kubernetes`` sets the cluster up (``tools/k8s-local.sh``), starts it, runs this
folder with ``CRAFT_TEST_KUBECONFIG`` set, and stops it. Without that variable the folder is
not collected (``tests/conftest.py``): the default ``make test`` needs no cluster.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conditions import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from platform_kit import EXAMPLES, TOKEN, Api

from craft_airflow.local.server import EmbeddedPlatform

NAMESPACE = os.environ.get("CRAFT_TEST_KUBE_NAMESPACE", "craft-test")
IMAGE = os.environ.get("CRAFT_TEST_KUBE_IMAGE", "localhost/py:1")
MANAGED = "app.kubernetes.io/managed-by=craft-local"


def runtime_env(kubeconfig: str) -> dict[str, str]:
    """The ``CRAFT_LOCAL_*`` settings that make any platform started with them use the cluster
    (the pods reach the platform on the node's loopback: no kube-proxy here)."""
    return {
        "CRAFT_LOCAL_RUNTIME": "kubernetes",
        "CRAFT_LOCAL_KUBECONFIG": kubeconfig,
        "CRAFT_LOCAL_KUBE_NAMESPACE": NAMESPACE,
        "CRAFT_LOCAL_KUBE_IMAGE": IMAGE,
        "CRAFT_LOCAL_KUBE_IMAGE_PULL_POLICY": "Never",
        "CRAFT_LOCAL_KUBE_HOST_NETWORK": "true",
        "CRAFT_LOCAL_KUBE_MEMORY_REQUEST": "32Mi",
        "CRAFT_LOCAL_KUBE_CPU_REQUEST": "50m",
    }


class Cluster:
    """Kubernetes clients for the assertions, scoped to the test namespace."""

    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=kubeconfig)
        self.kubeconfig = kubeconfig
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.namespace = NAMESPACE

    def ensure_namespace(self) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.read_namespace(self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.core.create_namespace({"metadata": {"name": self.namespace}})
        wait_until(
            lambda: any(
                sa.metadata.name == "default"
                for sa in self.core.list_namespaced_service_account(self.namespace).items
            ),
            30,
            "the namespace's default service account",
        )

    def jobs(self, selector: str = MANAGED) -> list[Any]:
        return list(self.batch.list_namespaced_job(self.namespace, label_selector=selector).items)

    def pods(self, selector: str = MANAGED) -> list[Any]:
        return list(self.core.list_namespaced_pod(self.namespace, label_selector=selector).items)

    def job_of(self, execution_id: str) -> Any:
        """The Job labelled with ``execution_id`` (waits for it)."""
        return wait_until(
            lambda: next(
                (
                    job
                    for job in self.jobs()
                    if job.metadata.annotations.get("craft-local/execution-id") == execution_id
                ),
                None,
            ),
            30,
            f"the Job of {execution_id}",
        )

    def running_pod_of(self, job_name: str) -> Any:
        def running() -> Any:
            for pod in self.pods(f"job-name={job_name}"):
                if pod.status.phase == "Running":
                    return pod
            return None

        return wait_until(running, 60, f"a running pod of {job_name}")

    def assert_nothing_left(self, timeout: float = 90) -> None:
        """No Job or pod of any embedded platform remains in the namespace."""
        wait_until(
            lambda: not self.jobs() and not self.pods(),
            timeout,
            "every craft-local Job and pod to be deleted",
        )


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
