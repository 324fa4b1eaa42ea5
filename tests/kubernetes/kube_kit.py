"""Helpers of the Kubernetes runtime tests: the settings that put a platform on the cluster,
and clients for the assertions."""

from __future__ import annotations

import os
from typing import Any

from conditions import wait_until

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
