"""The embedded platform on the Kubernetes runtime: latency, throughput and memory.

Needs a cluster: ``CRAFT_BENCH_KUBECONFIG`` (plus ``CRAFT_BENCH_KUBE_IMAGE``, default
``localhost/py:1``), or else this script sets up and starts ``tools/k8s-local.sh`` (and stops
it at the end). Pods reach the platform over the node's network (``--kube-host-network``).

* start-to-running latency: ``--latency-runs`` executions of ``slow`` one after another; from
  the run request to the pipeline's first log line (the pod's own timestamp), and to the end.
* executions per minute at ``--max-concurrency 4``: ``--count`` runs of ``noop`` submitted back
  to back, then waited for.
* memory: the platform server's peak RSS over the throughput batch, the cluster's processes
  (etcd, API server, controller manager, scheduler, kubelet, dockerd) after it.

Usage: ``python benchmarks/kubernetes_runtime.py [--latency-runs 10] [--count 40]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import _common as c
import httpx

K8S = c.REPO / "tools" / "k8s-local.sh"
CLUSTER_PROCESSES = ("etcd", "apiserver", "kcm", "sched", "kubelet", "dockerd")


def _date(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class Client:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        token = self.http.post("/api/v1/auth/refresh", json={"refresh_token": c.SDK_TOKEN})
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def start(self, pipeline: str, inputs: dict[str, Any]) -> str:
        import json

        response = self.http.post(
            f"/api/v1/pipelines/{pipeline}/run", data={"json_inputs": json.dumps(inputs)}
        )
        response.raise_for_status()
        return str(response.json()["execution_id"])

    def wait(self, execution_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            execution = self.http.get(f"/api/v1/executions/{execution_id}").json()
            if execution["status"] not in ("Pending", "Running"):
                assert execution["status"] == "Succeeded", execution
                return dict(execution)
            time.sleep(0.1)
        raise TimeoutError(execution_id)

    def first_log(self, execution_id: str) -> float:
        lines = self.http.post(f"/api/v1/executions/{execution_id}/logs", json={}).json()[0]
        return _date(lines[0]["timestamp"])


def _platform(root: Path, kubeconfig: str, image: str, *extra: str) -> Any:
    from craft_local.server import EmbeddedPlatform

    return EmbeddedPlatform(
        root / "platform",
        sdk_token=c.SDK_TOKEN,
        pipelines_dir=c.pipelines_dir(root),
        extra_args=["--long-poll-seconds", "1", *extra],
        shutdown_grace_seconds=5,
        env={
            "CRAFT_LOCAL_RUNTIME": "kubernetes",
            "CRAFT_LOCAL_KUBECONFIG": kubeconfig,
            "CRAFT_LOCAL_KUBE_NAMESPACE": "default",
            "CRAFT_LOCAL_KUBE_IMAGE": image,
            "CRAFT_LOCAL_KUBE_IMAGE_PULL_POLICY": "Never",
            "CRAFT_LOCAL_KUBE_HOST_NETWORK": "true",
        },
    )


def latency(root: Path, kubeconfig: str, image: str, runs: int) -> list[list[Any]]:
    with _platform(root / "latency", kubeconfig, image) as platform:
        client = Client(platform.url)
        to_running, to_end = [], []
        for i in range(runs):
            started = time.time()
            execution_id = client.start("slow", {"seconds": 0.2})
            done = client.wait(execution_id)
            to_running.append(client.first_log(execution_id) - started)
            to_end.append(_date(done["end_date"]) - started)
            c.progress(f"latency run {i + 1}/{runs}: {to_running[-1]:.2f} s to running")
    return [
        ["request to first log line (running)", *_spread(to_running)],
        ["request to Succeeded", *_spread(to_end)],
    ]


def _spread(values: list[float]) -> list[str]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return [f"{statistics.median(ordered):.2f}", f"{p90:.2f}", f"{ordered[0]:.2f}"]


def throughput(root: Path, kubeconfig: str, image: str, count: int) -> tuple[list[Any], Any]:
    with _platform(root / "throughput", kubeconfig, image, "--max-concurrency", "4") as platform:
        assert platform._proc is not None
        pid = platform._proc.pid
        client = Client(platform.url)
        baseline = c.process_memory(pid) / 2**20
        started = time.monotonic()
        ids = [client.start("noop", {}) for _ in range(count)]
        for execution_id in ids:
            client.wait(execution_id)
        elapsed = time.monotonic() - started
        peak = c.process_memory(pid, "VmHWM") / 2**20
    row = [4, count, f"{elapsed:.1f}", f"{count * 60 / elapsed:.0f}"]
    return row, (baseline, peak)


def cluster_memory(base: Path) -> list[list[Any]]:
    rows = []
    for name in CLUSTER_PROCESSES:
        pid_file = base / f"{name}.pid"
        if pid_file.exists():
            try:
                rows.append([name, f"{c.process_memory(int(pid_file.read_text())) / 2**20:.0f}"])
            except OSError:
                continue
    rows.append(["total", f"{sum(float(r[1]) for r in rows):.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-runs", type=int, default=10)
    parser.add_argument("--count", type=int, default=40)
    args = parser.parse_args()
    kubeconfig = os.environ.get("CRAFT_BENCH_KUBECONFIG")
    image = os.environ.get("CRAFT_BENCH_KUBE_IMAGE", "localhost/py:1")
    own_cluster = not kubeconfig
    if own_cluster:
        c.progress("setting up and starting tools/k8s-local.sh")
        subprocess.run([K8S, "setup"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([K8S, "start"], check=True, stdout=subprocess.DEVNULL)
        kubeconfig = subprocess.run(
            [K8S, "kubeconfig"], check=True, capture_output=True, text=True
        ).stdout.strip()
    assert kubeconfig
    try:
        with c.temp_root("craft-bench-k8s-") as root:
            rows = latency(root, kubeconfig, image, args.latency_runs)
            row, (baseline, peak) = throughput(root, kubeconfig, image, args.count)
            print(f"\nLatency per execution, {args.latency_runs} runs one at a time:\n")
            print(c.table(["interval", "median s", "p90 s", "best s"], rows))
            print("\nThroughput of a trivial pipeline:\n")
            print(c.table(["--max-concurrency", "executions", "wall s", "executions/min"], [row]))
            print(
                f"\nPlatform server RSS: {baseline:.0f} MiB before the batch,"
                f" peak {peak:.0f} MiB during it."
            )
            base = Path(kubeconfig).parent  # tools/k8s-local.sh keeps its pid files there
            if (base / "etcd.pid").exists():
                print("\nCluster processes after the batch (RSS MiB):\n")
                print(c.table(["process", "RSS MiB"], cluster_memory(base)))
    finally:
        if own_cluster:
            subprocess.run([K8S, "stop"], check=False)


if __name__ == "__main__":
    main()
