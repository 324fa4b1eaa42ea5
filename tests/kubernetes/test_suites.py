"""The SDK conformance suite and the provider's integration tests, re-run with every embedded
platform they start on the Kubernetes runtime (the ``CRAFT_LOCAL_*`` settings reach the
platform processes through the environment).

``make test-kubernetes`` (CI) re-runs the example DAGs' integration tests, which run every kind
of execution (pipeline runs, mapped runs, endpoints, the sensor, deferred and not);
``make test-kubernetes-full`` (``CRAFT_K8S_ALL_INTEGRATION=1``) re-runs the whole folder, about
7 more minutes on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from kube_kit import MANAGED, Cluster, runtime_env

REPO = Path(__file__).resolve().parents[2]
INTEGRATION = (
    "tests/integration"
    if os.environ.get("CRAFT_K8S_ALL_INTEGRATION")
    else "tests/integration/test_example_dag_runs.py"
)


class JobWatch:
    """Counts the Jobs created in the namespace while it runs (a watch from a list's version)."""

    def __init__(self, cluster: Cluster) -> None:
        from kubernetes import watch

        self.cluster = cluster
        self.names: set[str] = set()
        self._watch = watch.Watch()
        self._stopped = threading.Event()
        listed = cluster.batch.list_namespaced_job(cluster.namespace, label_selector=MANAGED)
        self._version = listed.metadata.resource_version
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                for event in self._watch.stream(
                    self.cluster.batch.list_namespaced_job,
                    self.cluster.namespace,
                    label_selector=MANAGED,
                    resource_version=self._version,
                    timeout_seconds=60,
                ):
                    obj = event["object"]
                    self._version = obj.metadata.resource_version
                    if event["type"] == "ADDED":
                        self.names.add(obj.metadata.name)
            except Exception:  # stopped, or the watch expired: list again
                if self._stopped.is_set():
                    return
                listed = self.cluster.batch.list_namespaced_job(
                    self.cluster.namespace, label_selector=MANAGED
                )
                self.names.update(job.metadata.name for job in listed.items)
                self._version = listed.metadata.resource_version

    def stop(self) -> int:
        self._stopped.set()
        self._watch.stop()
        self._thread.join(2)  # a daemon: a watch blocked on the server is left to end
        return len(self.names)


@pytest.mark.parametrize(
    ("folder", "at_least"), [("tests/craft_local/conformance", 10), (INTEGRATION, 10)]
)
def test_suite_passes_on_the_kubernetes_runtime(
    cluster: Cluster, folder: str, at_least: int
) -> None:
    watch = JobWatch(cluster)
    env = {**os.environ, **runtime_env(cluster.kubeconfig)}
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", folder],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=2400,
        )
    finally:
        jobs = watch.stop()
    output = f"{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    assert run.returncode == 0, f"{folder} on Kubernetes:\n{output}"
    print(f"{folder}: {run.stdout.strip().splitlines()[-1]}; {jobs} Jobs")
    assert jobs >= at_least, f"only {jobs} Jobs were created: did the platforms use Kubernetes?"
