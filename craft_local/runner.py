"""Runs executions through a runtime, a bounded number at a time, off the event loop.

Each execution gets a worker thread from a pool of ``max_concurrency`` threads (the queue
of the pool is the ``Pending`` state); the thread prepares a :class:`Launch`, hands it to the
runtime (``runtimes/process.py``: child processes; ``runtimes/kubernetes.py``: Jobs), which
streams the logs and enforces the deployment's ``execution_timeout_s``, then checks the
returned outputs against the pipeline's declaration.

A graceful stop (:meth:`Runner.shutdown`) drains: it starts nothing new, lets the running
executions finish within a grace period, then kills what still runs (marked ``Error``); a
runtime that ``detaches_on_stop`` leaves them running instead, for the next start to
re-attach. Executions not started stay ``Pending``; the next start re-queues them.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from craft_local.datatypes import expected, matches
from craft_local.jsontext import problem
from craft_local.mappings import datastore_file
from craft_local.runtimes import Launch, Outcome, Runtime
from craft_local.store import Store

log = logging.getLogger("craft_local")


class OutputError(Exception):
    """The function's return value does not match the declared outputs."""


class Runner:
    """Executes pipelines for one platform.

    :param store: the platform's store.
    :param max_concurrency: executions running at once.
    :param runtime: where executions run; child processes when ``None``.
    :param credential: an execution's credential from its id (``TokenIssuer.execution_credential``);
        none when ``None``.
    """

    def __init__(
        self,
        store: Store,
        max_concurrency: int,
        runtime: Runtime | None = None,
        credential: Callable[[str], str] | None = None,
    ) -> None:
        if runtime is None:
            from craft_local.runtimes.process import ProcessRuntime

            runtime = ProcessRuntime(store)
        self.store = store
        self.runtime = runtime
        self._credential = credential
        self._pool = ThreadPoolExecutor(max(1, max_concurrency), thread_name_prefix="execution")
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._draining = False
        # Executions between "marked Running" and "concluded"; a drain waits for them.
        self._active: set[str] = set()
        self._idle = threading.Condition(self._lock)

    def submit(self, execution_id: str, *, attach: bool = False) -> None:
        """Queue a ``Pending`` execution; it runs when a worker thread is free.

        :param attach: the execution is ``Running`` already (its Job survived a platform
            restart): follow it to its end.
        """
        self._pool.submit(self._guarded, execution_id, attach)

    def cancel(self, execution_id: str) -> None:
        """Stop an execution (it is being deleted); a no-op when it is not running."""
        with self._lock:
            self._cancelled.add(execution_id)
        self.runtime.kill(execution_id)

    def begin_drain(self) -> None:
        """Start no more executions: those not started yet stay ``Pending``.

        Lock-free: called from the SIGTERM handler, which may interrupt a holder of the lock.
        """
        self._draining = True

    def shutdown(self, grace_seconds: float = 0.0) -> int:
        """Stop: drain running executions for up to ``grace_seconds``, then kill the rest.

        Killed executions end ``Error``; ``Pending`` ones are left for the next start to
        re-queue. Returns how many were killed.
        """
        self.begin_drain()
        if self.runtime.detaches_on_stop:
            grace_seconds = 0  # the executions go on without the platform
        deadline = time.monotonic() + grace_seconds
        with self._lock:
            while self._active and (remaining := deadline - time.monotonic()) > 0:
                self._idle.wait(min(remaining, 0.5))
            self._stopping = True
            killed = [] if self.runtime.detaches_on_stop else list(self._active)
        self.runtime.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for execution_id in killed:
            self.store.finish(
                execution_id, "Error", error="platform stopped while the execution was running"
            )
        return len(killed)

    def _guarded(self, execution_id: str, attach: bool = False) -> None:
        with self._lock:
            if self._draining or self._stopping:
                return
            if not attach and not self.store.mark_running(execution_id):
                self._cancelled.discard(execution_id)  # deleted (or done): it never runs
                return
            self._active.add(execution_id)
        try:
            self._run(execution_id, attach)
        except Exception as exc:  # a platform bug must not leave an execution Running
            log.exception("execution %s: platform error", execution_id)
            self.store.finish(execution_id, "Error", error=f"platform error: {exc}")
        finally:
            with self._lock:
                self._active.discard(execution_id)
                self._cancelled.discard(execution_id)
                self._idle.notify_all()

    def _run(self, execution_id: str, attach: bool) -> None:
        execution = self.store.get_execution(execution_id)
        if execution is None:
            return
        pipeline = self.store.get_pipeline(execution["pipeline_name"])
        if pipeline is None:
            self.store.finish(execution_id, "Error", error="the pipeline was deleted")
            return
        exec_dir = self.store.execution_dir(execution_id)
        parameters = pipeline["parameters"]
        kwargs: dict[str, Any] = {}
        file_inputs: dict[str, Path] = {}
        for item in execution["inputs"]:
            if item.get("_omit"):
                continue
            if "_file" in item:
                file_inputs[item["pipeline_input_name"]] = exec_dir / item["_file"]
            else:
                kwargs[item["pipeline_input_name"]] = item.get("value")
        launch = Launch(
            execution_id=execution_id,
            pipeline_name=execution["pipeline_name"],
            code_dir=Path(pipeline["code_dir"]),
            function_path=parameters["function_path"],
            function_name=parameters["function_name"],
            kwargs=kwargs,
            file_inputs=file_inputs,
            file_outputs=[
                item["pipeline_output_name"]
                for item in execution["outputs"]
                if item["data_type"] == "file"
            ],
            env=self.store.env_vars(),
            exec_dir=exec_dir,
            timeout_s=execution.get("timeout_s"),
            attach=attach,
            credential=self._credential(execution_id) if self._credential else "",
        )
        log.info("execution %s: %s", execution_id, "re-attached" if attach else "started")
        outcome = self.runtime.run(launch)
        if outcome.detached:
            log.info("execution %s: left running for the next start", execution_id)
            return
        try:
            self._conclude(execution_id, execution, outcome, launch.result_path, launch.work)
        finally:
            shutil.rmtree(launch.work, ignore_errors=True)
            with self._lock:
                deleted = execution_id in self._cancelled
            if deleted:
                # The delete call removed the folder while the code could still write in it.
                shutil.rmtree(exec_dir, ignore_errors=True)

    def _conclude(
        self,
        execution_id: str,
        execution: dict[str, Any],
        outcome: Outcome,
        result_path: Path,
        work: Path,
    ) -> None:
        with self._lock:
            if execution_id in self._cancelled:
                return
        if self._stopping and not _has_result(result_path):
            self.store.finish(
                execution_id, "Error", error="platform stopped while the execution was running"
            )
            return
        if outcome.error is not None:
            self.store.append_log(execution_id, f"[platform] {outcome.error}")
            self.store.finish(execution_id, "Error", error=outcome.error)
            log.info("execution %s: error: %s", execution_id, outcome.error)
            return
        if outcome.timed_out:
            message = (
                f"the execution exceeded its execution_timeout_s of {outcome.timeout_s:g} s"
                " and was stopped"
            )
            self.store.append_log(execution_id, f"[platform] {message}")
            self.store.finish(execution_id, "Failed", error=message)
            return
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError, RecursionError):
            message = f"the pipeline process ended with code {outcome.returncode} and no result"
            self.store.append_log(execution_id, f"[platform] {message}")
            self.store.finish(execution_id, "Failed", error=message)
            return
        if "error" in result:
            self.store.finish(execution_id, "Failed", error=result["error"])
            log.info("execution %s: failed", execution_id)
            return
        try:
            outputs = self._collect_outputs(execution, result["outputs"], work)
        except OutputError as exc:
            self.store.append_log(execution_id, f"[platform] {exc}")
            self.store.finish(execution_id, "Failed", error=str(exc))
            return
        self.store.finish(execution_id, "Succeeded", outputs=outputs)
        log.info("execution %s: succeeded", execution_id)

    def _collect_outputs(
        self, execution: dict[str, Any], returned: dict[str, Any], work: Path
    ) -> list[dict[str, Any]]:
        items = execution["outputs"]
        declared = {item["pipeline_output_name"] for item in items}
        extra = sorted(set(returned) - declared)
        if extra:
            raise OutputError(
                f"the function returned undeclared output(s) {', '.join(map(repr, extra))};"
                f" declared: {', '.join(sorted(declared)) or 'none'}"
            )
        missing = sorted(declared - set(returned))
        if missing:
            raise OutputError(
                "the function did not return the declared output(s)"
                f" {', '.join(map(repr, missing))}"
            )
        exec_dir = self.store.execution_dir(execution["execution_id"])
        result = []
        for item in items:
            name, data_type = item["pipeline_output_name"], item["data_type"]
            value = returned[name]
            item = dict(item)
            source: Path | None = None
            if data_type == "file" and value is not None:
                if not (isinstance(value, dict) and isinstance(value.get("path"), str)):
                    raise OutputError(
                        f"file output '{name}' must be returned as {{'path': <file>}}"
                    )
                source = _inside(work, value["path"])
                if source is None or not source.is_file():
                    raise OutputError(
                        f"file output '{name}': no file at '{value['path']}' in the work folder"
                    )
            elif value is not None and data_type != "file" and not matches(data_type, value):
                raise OutputError(
                    f"output '{name}' must be {expected(data_type)} ({data_type}),"
                    f" got {type(value).__name__}"
                )
            elif data_type != "file" and (found := problem(value)) is not None:
                raise OutputError(f"output '{name}' can not be stored: {found}")
            if item["mapping_type"] == "is_null":
                result.append(item)
                continue
            if item["mapping_type"] == "datastore":
                path = _placeholders(
                    item["mapping_value"]["datastore_path"], execution["execution_id"]
                )
                target = datastore_file(self.store.datastore_dir, path)
                target.parent.mkdir(parents=True, exist_ok=True)
                if source is not None:
                    shutil.copyfile(source, target)
                elif value is not None:
                    target.write_text(json.dumps(value))
                result.append(item)
                continue
            if source is not None:
                rel = Path("outputs") / name / source.name
                (exec_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, exec_dir / rel)
                item["_file"] = str(rel)
            elif data_type != "file":
                item["value"] = value
            result.append(item)
        return result


def _has_result(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _inside(work: Path, relative: str) -> Path | None:
    """``work / relative`` with links resolved, if it stays inside ``work``: pipeline code
    must not make the platform copy out a file it could not read itself."""
    try:
        root = work.resolve()
        path = (work / relative).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return path if path.is_relative_to(root) and path != root else None


def _placeholders(path: str, execution_id: str) -> str:
    now = time.gmtime()
    return (
        path.replace("{execution_id}", execution_id)
        .replace("{date_time}", time.strftime("%Y%m%d_%H%M%S", now))
        .replace("{date}", time.strftime("%Y%m%d", now))
    )
