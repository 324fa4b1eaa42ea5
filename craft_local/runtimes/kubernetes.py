"""The ``kubernetes`` runtime: one ``batch/v1`` Job per execution, through the official client.

The pod runs ``pod_bootstrap.py`` (standard library only, sent in the Job spec), which talks
to the platform's pod API (``routers/pods.py``) with a per-execution pod token: it fetches the
code and inputs, runs the function and posts the outputs. The platform follows the pod's log
(``pods/log``), watches the Job and its pod, and deletes the Job once the execution ends.
Nothing of the platform reaches the pod but that token: no SDK or endpoint token, no service
account token, no platform file, none of the platform's environment.

Jobs carry the labels ``craft-local/instance`` (this data dir), ``craft-local/execution`` and
``craft-local/pipeline``; on a platform stop they keep running, and the next start re-attaches
to them (``reattachable``) and collects their results.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import secrets
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from craft_local.auth import load_or_create_secret
from craft_local.config import KubernetesSettings, PlatformConfig
from craft_local.runtimes import Launch, Outcome, RuntimeConfigError
from craft_local.runtimes.pod_gateway import PodGateway
from craft_local.sdk_packages import SdkPackages
from craft_local.store import Store

log = logging.getLogger("craft_local")

MANAGED_BY = "app.kubernetes.io/managed-by"
INSTANCE = "craft-local/instance"
EXECUTION = "craft-local/execution"
PIPELINE = "craft-local/pipeline"
EXECUTION_ID = "craft-local/execution-id"  # annotation: the exact id
CONTAINER = "pipeline"
POLL_SECONDS = 0.5
# Waiting reasons after which a container never starts by itself.
FATAL_WAITING = {
    "ErrImageNeverPull",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
}
RESOURCE_KEYS = ("cpu_request", "memory_request", "cpu_limit", "memory_limit")
BOOTSTRAP = (Path(__file__).parent / "pod_bootstrap.py").read_text()


class KubernetesRuntime:
    """Runs executions as Kubernetes Jobs.

    :param config: the platform's settings (``config.kubernetes`` for this runtime).
    :param store: the platform's store (logs, recorded executions).
    """

    detaches_on_stop = True

    def __init__(self, config: PlatformConfig, store: Store) -> None:
        from kubernetes import client

        self.settings = config.kubernetes
        self.store = store
        self.namespace = self.settings.namespace
        api = _api_client(self.settings, pool_size=2 * config.max_concurrency + 8)
        # Any: the client's models type every field Optional.
        self.batch: Any = client.BatchV1Api(api)
        self.core: Any = client.CoreV1Api(api)
        self.instance = _instance_id(config.data_dir)
        self.pod_url = self.settings.pod_platform_url or f"http://{config.host}:{config.port}"
        self.pods = PodGateway(load_or_create_secret(config.data_dir), self.pod_url)
        self.pods.sdk = SdkPackages(config.data_dir)
        self._stopping = threading.Event()
        self._killed: set[str] = set()
        self._active: set[str] = set()
        self._streams: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._check_access()

    # ---- Runtime -------------------------------------------------------------------
    def run(self, launch: Launch) -> Outcome:
        execution_id = launch.execution_id
        name = job_name(self.instance, execution_id)
        with self._lock:
            if execution_id in self._killed or self._stopping.is_set():
                return Outcome(detached=self._stopping.is_set(), error="stopped before start")
            self._active.add(execution_id)
        reported = self.pods.open(launch)
        outcome = Outcome(detached=True)
        try:
            if not launch.attach:
                problem = self._create_job(launch, name)
                if problem is not None:
                    outcome = Outcome(error=problem)
                    return outcome
            outcome = self._watch(launch, name, reported)
            return outcome
        finally:
            self.pods.close(execution_id)
            self._close_stream(execution_id)
            with self._lock:
                self._active.discard(execution_id)
                self._killed.discard(execution_id)
            if not outcome.detached:
                self._delete_job(name)

    def kill(self, execution_id: str) -> None:
        with self._lock:
            self._killed.add(execution_id)
        self.pods.wake(execution_id)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            active = list(self._active)
        for execution_id in active:
            self.pods.wake(execution_id)
            self._close_stream(execution_id)

    def reattachable(self, running: list[str]) -> list[str]:
        """Running executions whose Job still exists; Jobs of other executions are deleted."""
        from kubernetes.client.exceptions import ApiException

        try:
            selector = f"{MANAGED_BY}=craft-local,{INSTANCE}={self.instance}"
            jobs = self.batch.list_namespaced_job(self.namespace, label_selector=selector).items
        except ApiException as exc:
            log.warning("could not list Jobs to re-attach (%s): none re-attached", exc.reason)
            return []
        wanted = set(running)
        found = []
        for job in jobs:
            execution_id = (job.metadata.annotations or {}).get(EXECUTION_ID)
            if execution_id in wanted:
                found.append(execution_id)
            else:
                self._delete_job(job.metadata.name)
        if found:
            log.info("re-attaching to %d running Job(s)", len(found))
        return [execution_id for execution_id in running if execution_id in found]

    # ---- Jobs ----------------------------------------------------------------------
    def _check_access(self) -> None:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            self.batch.list_namespaced_job(self.namespace, limit=1)
        except ApiException as exc:
            raise RuntimeConfigError(
                f"can not list Jobs in namespace {self.namespace!r}: {exc.status} {exc.reason}"
                " (the platform needs RBAC for Jobs, Pods and pods/log there)"
            ) from None
        except HTTPError as exc:
            raise RuntimeConfigError(f"can not reach the Kubernetes API: {exc}") from None

    def _create_job(self, launch: Launch, name: str) -> str | None:
        """Create the execution's Job; a message when it can not be."""
        from kubernetes.client.exceptions import ApiException

        try:
            resources = self._resources(launch.pipeline_name)
        except RuntimeConfigError as exc:
            return str(exc)
        body = job_manifest(
            name=name,
            labels={
                MANAGED_BY: "craft-local",
                INSTANCE: self.instance,
                EXECUTION: label_value(launch.execution_id),
                PIPELINE: label_value(launch.pipeline_name),
            },
            execution_id=launch.execution_id,
            settings=self.settings,
            env={
                "CRAFT_POD_PLATFORM_URL": self.pod_url,
                "CRAFT_POD_TOKEN": self.pods.token(launch.execution_id),
                "CRAFT_AI_EXECUTION_ID": launch.execution_id,
            },
            resources=resources,
            timeout_s=launch.timeout_s,
        )
        try:
            self.batch.create_namespaced_job(self.namespace, body)
        except ApiException as exc:
            if exc.status == 409:
                return None  # created before a restart: follow it
            return f"could not create the execution's Job: {exc.status} {_api_message(exc)}"
        return None

    def _resources(self, pipeline_name: str) -> dict[str, dict[str, str]]:
        values = {key: getattr(self.settings, key) for key in RESOURCE_KEYS}
        path = self.settings.resources_file
        if path is not None:
            try:
                table = json.loads(Path(path).read_text())
            except (OSError, ValueError) as exc:
                raise RuntimeConfigError(f"kube-resources-file {path}: {exc}") from None
            override = table.get(pipeline_name, {}) if isinstance(table, dict) else None
            if not isinstance(override, dict) or set(override) - set(RESOURCE_KEYS):
                raise RuntimeConfigError(
                    f"kube-resources-file {path}: the entry of {pipeline_name!r} must be an"
                    f" object with keys among {', '.join(RESOURCE_KEYS)}"
                )
            values.update({key: str(value) for key, value in override.items()})
        result: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
        for key, value in values.items():
            if value:
                kind, part = key.split("_")
                result["requests" if part == "request" else "limits"][kind] = value
        return {part: items for part, items in result.items() if items}

    def _delete_job(self, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.batch.delete_namespaced_job(name, self.namespace, propagation_policy="Background")
        except ApiException as exc:
            if exc.status != 404:
                log.warning("could not delete Job %s: %s %s", name, exc.status, exc.reason)
        try:
            self.core.delete_collection_namespaced_pod(
                self.namespace, label_selector=f"job-name={name}"
            )
        except ApiException as exc:
            log.warning("could not delete the pods of Job %s: %s %s", name, exc.status, exc.reason)

    # ---- following a Job -----------------------------------------------------------
    def _watch(self, launch: Launch, name: str, reported: threading.Event) -> Outcome:
        from kubernetes.client.exceptions import ApiException

        execution_id = launch.execution_id
        pod_name: str | None = None
        follower: threading.Thread | None = None
        while True:
            if self._stopping.is_set():
                return Outcome(detached=True)
            if execution_id in self._killed:
                return Outcome(error="the execution was deleted")
            if reported.is_set() and (report := self.pods.report(launch)) is not None:
                self._drain_logs(launch, name, pod_name, follower)
                return self._reported(launch, report)
            try:
                job = self.batch.read_namespaced_job(name, self.namespace)
                pods = self.core.list_namespaced_pod(
                    self.namespace, label_selector=f"job-name={name}"
                ).items
            except ApiException as exc:
                if exc.status == 404:
                    return Outcome(error=f"the execution's Job {name} was deleted while it ran")
                log.warning("execution %s: reading its Job: %s", execution_id, exc.reason)
                reported.wait(POLL_SECONDS)
                continue
            if _deadline_exceeded(job, launch.timeout_s):
                self._drain_logs(launch, name, pod_name, follower, wait=2)
                return Outcome(timed_out=True, timeout_s=launch.timeout_s)
            pod = next((p for p in pods if p.metadata.name == pod_name), None)
            if pod_name is not None and (pod is None or pod.metadata.deletion_timestamp):
                if reported.is_set():
                    continue
                return Outcome(
                    error=f"the execution's pod {pod_name} was deleted while the execution ran"
                )
            if pod is None and pods:
                pod = pods[0]
                pod_name = pod.metadata.name
            if pod is not None:
                state = _container_state(pod)
                if state is not None and state.waiting and state.waiting.reason in FATAL_WAITING:
                    return Outcome(
                        error=f"the execution's pod could not start: {state.waiting.reason}:"
                        f" {state.waiting.message or ''}".rstrip(": ")
                    )
                if follower is None and state is not None and (state.running or state.terminated):
                    follower = self._start_follower(launch, pod.metadata.name)
                if pod.status.phase in ("Failed", "Succeeded"):
                    if reported.wait(1.0):  # a report posted just before the exit
                        continue
                    self._drain_logs(launch, name, pod_name, follower, wait=5)
                    return Outcome(error=_ended_message(pod, state, job))
            failed = _condition(job, "Failed")
            if failed is not None:
                message = f"the execution's Job failed: {failed.reason}: {failed.message}"
                return Outcome(error=message)
            reported.wait(POLL_SECONDS)

    def _reported(self, launch: Launch, report: dict[str, Any]) -> Outcome:
        if report.get("oom_killed") and not launch.result_path.exists():
            limit = self._resources(launch.pipeline_name).get("limits", {}).get("memory")
            return Outcome(error=_oom_message(limit))
        return Outcome(returncode=report.get("returncode"))

    # ---- logs ----------------------------------------------------------------------
    def _start_follower(self, launch: Launch, pod_name: str) -> threading.Thread:
        # After a restart, the lines already stored are the first ones of the pod's log.
        skip = 0
        if launch.attach:
            skip = sum(
                1
                for line in self.store.logs(launch.execution_id)
                if not line["message"].startswith("[platform] ")
            )
        thread = threading.Thread(
            target=self._follow,
            args=(launch.execution_id, pod_name, skip),
            name=f"logs-{launch.execution_id}",
            daemon=True,
        )
        thread.start()
        return thread

    def _follow(self, execution_id: str, pod_name: str, skip: int) -> None:
        from kubernetes.client.exceptions import ApiException

        give_up = time.monotonic() + 60
        while not self._stopping.is_set():
            seen = 0
            try:
                response = self.core.read_namespaced_pod_log(
                    pod_name,
                    self.namespace,
                    container=CONTAINER,
                    follow=True,
                    timestamps=True,
                    _preload_content=False,
                )
            except ApiException as exc:
                # 400: the kubelet has not reported the container started yet (a quick one
                # may even have ended already): ask again; 404: the pod is gone.
                if exc.status != 400 or time.monotonic() > give_up:
                    return
                self._stopping.wait(POLL_SECONDS / 2)
                continue
            with self._lock:
                self._streams[execution_id] = response
            pending = b""
            try:
                for chunk in response.stream(64 * 1024):
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for raw in lines:
                        seen += 1
                        if seen > skip:
                            self._store_line(execution_id, raw)
            except Exception as exc:  # closed from another thread, or the connection broke
                if self._stopping.is_set() or execution_id not in self._active:
                    return
                log.info("execution %s: log stream broke (%s), reading on", execution_id, exc)
            finally:
                with self._lock:
                    self._streams.pop(execution_id, None)
                response.release_conn()
            if pending:
                seen += 1
                if seen > skip:
                    self._store_line(execution_id, pending)
            if self._container_done(pod_name):
                return
            # The stream ended but the kubelet has not reported the container's end yet (or the
            # connection broke): look again shortly.
            self._stopping.wait(POLL_SECONDS)
            skip = max(skip, seen)  # the stream broke while the container runs: read on

    def _store_line(self, execution_id: str, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        stamp, _, message = text.partition(" ")
        try:
            ts: float | None = datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            ts, message = None, text
        self.store.append_log(execution_id, message, ts)

    def _container_done(self, pod_name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            pod = self.core.read_namespaced_pod(pod_name, self.namespace)
        except ApiException:
            return True
        state = _container_state(pod)
        return bool(
            state is None or state.terminated is not None or pod.metadata.deletion_timestamp
        )

    def _drain_logs(
        self,
        launch: Launch,
        name: str,
        pod_name: str | None,
        follower: threading.Thread | None,
        wait: float = 15,
    ) -> None:
        """Let the log follower read to the end of the container's output."""
        if follower is None:
            if pod_name is None:
                pods = self.core.list_namespaced_pod(
                    self.namespace, label_selector=f"job-name={name}"
                ).items
                if not pods:
                    return
                pod_name = pods[0].metadata.name
            follower = self._start_follower(launch, pod_name)
        follower.join(wait)

    def _close_stream(self, execution_id: str) -> None:
        with self._lock:
            response = self._streams.pop(execution_id, None)
        if response is not None:
            with contextlib.suppress(Exception):  # already closed by the reader
                response.close()


# ---- pure helpers -------------------------------------------------------------------
def job_name(instance: str, execution_id: str) -> str:
    """A DNS-1123 Job name unique to (platform instance, execution), at most 52 characters
    (pod names add a suffix)."""
    digest = hashlib.sha256(f"{instance}/{execution_id}".encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-z0-9-]+", "-", execution_id.lower()).strip("-")[:36].strip("-")
    return f"craft-{stem}-{digest}" if stem else f"craft-{digest}"


def label_value(value: str) -> str:
    """``value`` as a valid label value (63 characters of ``[A-Za-z0-9_.-]``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", value)[:63].strip("-_.")


def job_manifest(
    *,
    name: str,
    labels: dict[str, str],
    execution_id: str,
    settings: KubernetesSettings,
    env: dict[str, str],
    resources: dict[str, dict[str, str]],
    timeout_s: float | None,
) -> dict[str, Any]:
    """The ``batch/v1`` Job of one execution: one pod, never restarted, no service account
    token, the bootstrap as its command."""
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python3", "-u", "-c", BOOTSTRAP],
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "workingDir": "/craft",
        "volumeMounts": [{"name": "craft", "mountPath": "/craft"}],
        "securityContext": {
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
        },
    }
    if resources:
        container["resources"] = resources
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 5,
        "containers": [container],
        "volumes": [{"name": "craft", "emptyDir": {}}],
    }
    if settings.host_network:
        pod_spec["hostNetwork"] = True
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "template": {
            "metadata": {"labels": labels, "annotations": {EXECUTION_ID: execution_id}},
            "spec": pod_spec,
        },
    }
    if timeout_s is not None:
        spec["activeDeadlineSeconds"] = max(1, math.ceil(timeout_s))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels, "annotations": {EXECUTION_ID: execution_id}},
        "spec": spec,
    }


def _api_client(settings: KubernetesSettings, pool_size: int) -> Any:
    """A client from the kubeconfig (``--kubeconfig``, else ``KUBECONFIG`` / ``~/.kube/config``),
    else the in-cluster service account."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    default = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
    try:
        if settings.kubeconfig or default.expanduser().exists():
            config.load_kube_config(
                config_file=settings.kubeconfig,
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            config.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError) as exc:
        raise RuntimeConfigError(f"no usable Kubernetes configuration: {exc}") from None
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


def _instance_id(data_dir: Path) -> str:
    """The id labelling this data dir's Jobs (kept across restarts)."""
    path = data_dir / "kubernetes-instance"
    if not path.exists():
        path.write_text(secrets.token_hex(6))
    return path.read_text().strip()


def _container_state(pod: Any) -> Any:
    for status in pod.status.container_statuses or []:
        if status.name == CONTAINER:
            return status.state
    return None


def _condition(job: Any, kind: str) -> Any:
    for condition in job.status.conditions or []:
        if condition.type == kind and condition.status == "True":
            return condition
    return None


def _deadline_exceeded(job: Any, timeout_s: float | None) -> bool:
    failed = _condition(job, "Failed")
    if failed is not None and failed.reason == "DeadlineExceeded":
        return True
    # The Job controller deletes the pod before it records the condition.
    started = job.status.start_time
    return (
        timeout_s is not None
        and started is not None
        and time.time() - started.timestamp() >= math.ceil(timeout_s)
    )


def _oom_message(limit: str | None) -> str:
    bound = f"its memory limit of {limit}" if limit else "the memory available to it"
    return f"the pipeline ran out of memory: it exceeded {bound} and was killed (OOMKilled)"


def _ended_message(pod: Any, state: Any, job: Any) -> str:
    terminated = state.terminated if state is not None else None
    if terminated is not None and terminated.reason == "OOMKilled":
        limits = (pod.spec.containers[0].resources.limits or {}) if pod.spec.containers else {}
        return _oom_message(limits.get("memory"))
    if terminated is not None:
        detail = f"exit code {terminated.exit_code}"
        if terminated.reason:
            detail += f", {terminated.reason}"
        return f"the execution's pod {pod.metadata.name} ended ({detail}) before reporting a result"
    reason = pod.status.reason or pod.status.phase
    return f"the execution's pod {pod.metadata.name} ended ({reason}) before reporting a result"


def _api_message(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)
