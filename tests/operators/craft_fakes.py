"""Test doubles for the collaborators of the operators and the sensor (never the code under
test): a recording hook with scripted platform answers, a task instance and a state store."""

from __future__ import annotations

import io
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.protocol.calls import CallContext
from craft_airflow.protocol.outcomes import WaitOutcome


@dataclass
class FakeTaskInstance:
    dag_id: str = "dag"
    run_id: str = "manual__2026-01-01T00:00:00+00:00"
    task_id: str = "task"
    map_index: int = -1
    try_number: int = 1
    xcoms: dict[str, Any] = field(default_factory=dict)
    stats_tags: dict[str, str] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


class FakeStateStore(dict):
    """``task_state_store`` with the get/set API of Airflow 3.3."""

    def set(self, key: str, value: Any) -> None:  # type: ignore[override]
        self[key] = value


def make_context(ti: FakeTaskInstance | None = None, store: FakeStateStore | None = None) -> dict:
    ti = ti or FakeTaskInstance()
    context: dict[str, Any] = {"ti": ti, "task_instance": ti, "run_id": ti.run_id}
    if store is not None:
        context["task_state_store"] = store
    return context


class FakeHook:
    """Answers like ``CraftAIHook`` from scripted data and records every call."""

    def __init__(
        self,
        *,
        config: CraftConnectionConfig | None = None,
        pipeline: dict | None = None,
        statuses: dict[str, str] | None = None,
        outputs: list[dict] | None = None,
        files: dict[str, bytes] | None = None,
        logs: list[dict] | None = None,
        wait_event: WaitOutcome | None = None,
        endpoint_results: dict | None = None,
        deployment: dict | None = None,
    ) -> None:
        self.config = config or CraftConnectionConfig(
            environment_url="https://env.example",
            sdk_token="sdk-token-secret",
            execution_url_template="https://ui.example/executions/{execution_id}",
            # Live logs drive the protocol's steps, which this fake does not answer: they are
            # proven against the embedded platform (tests/operators/test_live_logs.py).
            live_logs=False,
        )
        self.pipeline = pipeline or {"parameters": {"inputs": [], "outputs": []}}
        self.statuses = statuses or {}
        self.outputs = outputs or []
        self.files = files or {}
        self.logs = logs or []
        self.wait_event = wait_event
        self.endpoint_results = endpoint_results or {}
        self.deployment = deployment or {}
        self.calls: list[tuple[str, tuple, dict]] = []
        self.sent_files: dict[str, tuple[str, bytes, Any]] = {}
        self._next_id = 0

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def called(self, name: str) -> list[tuple[tuple, dict]]:
        return [(a, k) for n, a, k in self.calls if n == name]

    def _new_execution(self, prefix: str) -> str:
        self._next_id += 1
        execution_id = f"{prefix}-{self._next_id}"
        self.statuses.setdefault(execution_id, "Running")
        return execution_id

    def _read_files(self, files: Any) -> None:
        for name, file_input in (files or {}).items():
            stream = file_input.stream
            self.sent_files[name] = (file_input.filename, stream.read(), stream)

    def get_pipeline(self, name: str) -> dict:
        self._record("get_pipeline", name)
        return self.pipeline

    def run_pipeline(self, name: str, **kwargs: Any) -> str:
        self._record("run_pipeline", name, **kwargs)
        self._read_files(kwargs.get("files"))
        return self._new_execution(name)

    def get_deployment(self, name: str) -> dict:
        self._record("get_deployment", name)
        return self.deployment

    def trigger_deployment(self, name: str, **kwargs: Any) -> str:
        self._record("trigger_deployment", name, **kwargs)
        self._read_files(kwargs.get("files"))
        return self._new_execution(name)

    def trigger_endpoint(self, name: str, **kwargs: Any) -> str:
        self._record("trigger_endpoint", name, **kwargs)
        self._read_files(kwargs.get("files"))
        return self._new_execution(name)

    def get_execution(self, execution_id: str, *, include_io_values: bool = False) -> dict:
        self._record("get_execution", execution_id)
        return {"execution_id": execution_id, "status": self.statuses[execution_id]}

    @property
    def call_context(self) -> CallContext:
        return CallContext(self.config)

    def drive(self, steps: Generator[Any, Any, Any]) -> Any:
        """The routes build a wait's steps and have the hook drive them: answer the waits by
        name from the scripted outcome, recording them as the hook's own wait calls (the
        steps' arguments read from the unstarted generator), and never send."""
        name, args = steps.gi_code.co_name, dict(steps.gi_frame.f_locals)  # type: ignore[attr-defined]
        steps.close()
        bounds = {"timeout": args["timeout"], "poll_interval": args["poll_interval"]}
        if name == "execution_outcome_steps":
            return self.wait_for_outcome(args["execution_id"], **bounds)
        if name == "endpoint_outcome_steps":  # recorded by path, with the token it carries
            path, token = args["endpoint_url_path"], args["endpoint_token"]
            return self.wait_for_endpoint_outcome(
                path, args["execution_id"], endpoint_token=token, **bounds
            )
        raise AssertionError(f"FakeHook does not answer the steps of {name}")

    def wait_for_outcome(self, execution_id: str, **kwargs: Any) -> WaitOutcome:
        self._record("wait_for_outcome", execution_id, **kwargs)
        assert self.wait_event is not None, "the test did not script a wait outcome"
        return self.wait_event

    def wait_for_endpoint_outcome(
        self, endpoint_name: str, execution_id: str, **kwargs: Any
    ) -> WaitOutcome:
        self._record("wait_for_endpoint_outcome", endpoint_name, execution_id, **kwargs)
        assert self.wait_event is not None, "the test did not script a wait outcome"
        return self.wait_event

    def get_outputs(self, execution_id: str) -> list[dict]:
        self._record("get_outputs", execution_id)
        return self.outputs

    def download_output(self, execution_id: str, name: str, dest: BinaryIO) -> int:
        self._record("download_output", execution_id, name)
        data = self.files[name]
        # Several writes, as a streamed download does.
        for start in range(0, len(data), 4):
            dest.write(data[start : start + 4])
        return len(data)

    def get_endpoint_results(self, path: str, execution_id: str, *, endpoint_name: str) -> dict:
        self._record("get_endpoint_results", path, execution_id, endpoint_name=endpoint_name)
        return self.endpoint_results

    def download_endpoint_file(self, url: str, dest: BinaryIO, *, endpoint_name: str) -> int:
        self._record("download_endpoint_file", url, endpoint_name=endpoint_name)
        data = self.files[url]
        dest.write(data)
        return len(data)

    def get_logs(self, execution_id: str, *, after: Any = None) -> list[dict]:
        self._record("get_logs", execution_id, after=after)
        return self.logs


def use_hook(task: Any, hook: FakeHook) -> FakeHook:
    """Give ``task`` this hook instead of building one from a connection."""
    task.__dict__["hook"] = hook
    return hook


def as_stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
