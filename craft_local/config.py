"""Settings of one embedded platform process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from craft_local.faults import FaultSettings

DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_CODE_BYTES = 50 * 1024 * 1024
#: JSON and form-urlencoded bodies are read whole before parsing: a smaller bound than files.
DEFAULT_MAX_JSON_BYTES = 1024 * 1024
# The SDK documents "0.06 MB" for all non-file values; we read it as 60,000 bytes of the
# JSON text of those values (open question 10 of the contract).
MAX_JSON_INPUTS_BYTES = 60_000
RUNTIMES = ("process", "kubernetes")


@dataclass
class KubernetesSettings:
    """Where and how ``--runtime kubernetes`` runs executions (one ``batch/v1`` Job each).

    :param namespace: namespace of the Jobs (the platform needs RBAC for Jobs, Pods and pod logs).
    :param image: image of the pods; it needs ``python3`` (standard library only).
    :param image_pull_policy: ``Always``, ``IfNotPresent`` or ``Never``.
    :param kubeconfig: kubeconfig file; ``None``: the ``KUBECONFIG`` rules, then in-cluster.
    :param context: kubeconfig context; ``None``: the current one.
    :param pod_platform_url: URL at which pods reach this platform; ``None``: its own URL.
    :param host_network: run pods on the node's network (to reach a platform on loopback).
    :param cpu_request: default CPU request of a pod (Kubernetes quantity, "" for none).
    :param memory_request: default memory request of a pod.
    :param cpu_limit: default CPU limit of a pod.
    :param memory_limit: default memory limit of a pod.
    :param resources_file: JSON file ``{pipeline_name: {"cpu_request": ..., "memory_limit": ...}}``
        overriding the defaults per pipeline; read at each execution start.
    """

    namespace: str = "default"
    image: str = "python:3.11-slim"
    image_pull_policy: str = "IfNotPresent"
    kubeconfig: str | None = None
    context: str | None = None
    pod_platform_url: str | None = None
    host_network: bool = False
    cpu_request: str = "100m"
    memory_request: str = "128Mi"
    cpu_limit: str = ""
    memory_limit: str = "1Gi"
    resources_file: Path | None = None


@dataclass
class PlatformConfig:
    """Everything ``craft-local serve`` can be told.

    :param data_dir: where SQLite, code, files and logs live.
    :param sdk_token: the only accepted refresh (SDK) token.
    :param pipelines_dir: folder of declared pipelines loaded at start, if any.
    :param examples: also declare the example pipelines (:mod:`craft_local.examples`), before
        those of ``pipelines_dir`` (which replace an example of the same name).
    :param max_concurrency: executions running at once; the rest wait as ``Pending``.
    :param long_poll_seconds: how long a waiting request is held before ``307``.
    :param jwt_lifetime: access-token lifetime in seconds.
    :param max_request_bytes: largest accepted request body (413 above).
    :param max_json_bytes: largest JSON or form-urlencoded body (413 above, before parsing).
    :param max_code_bytes: largest uncompressed pipeline code archive.
    :param shutdown_grace_seconds: on a graceful stop, how long running executions may take to
        finish before they are killed (and marked ``Error``).
    :param public_url: URL at which clients reach the platform other than on loopback (behind a
        proxy, from another machine); its host is answered besides the loopback names.
    :param pipeline_python: interpreter of pipeline code on the ``process`` runtime; ``None``:
        the platform's own (or, isolating, a same-version system one if others can not run it).
    :param runtime: where executions run: ``process`` (child processes) or ``kubernetes``.
    :param kubernetes: settings of the ``kubernetes`` runtime.
    """

    data_dir: Path
    sdk_token: str
    pipelines_dir: Path | None = None
    examples: bool = False
    host: str = "127.0.0.1"
    port: int = 8765
    max_concurrency: int = 4
    long_poll_seconds: float = 5.0
    jwt_lifetime: int = 3600
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    max_code_bytes: int = DEFAULT_MAX_CODE_BYTES
    shutdown_grace_seconds: float = 30.0
    faults: FaultSettings = field(default_factory=FaultSettings)
    public_url: str | None = None
    pipeline_python: str | None = None
    runtime: str = "process"
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)
