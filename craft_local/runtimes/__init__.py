"""Where executions run: the runtime interface the runner drives, and picking one.

A runtime runs one prepared execution (:class:`Launch`) to its end and says how it ended
(:class:`Outcome`); the runner decides everything else (concurrency, statuses, outputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from craft_local.config import PlatformConfig
    from craft_local.store import Store


class RuntimeConfigError(ValueError):
    """The runtime can not work with the given settings (e.g. the cluster is unreachable)."""


@dataclass
class Launch:
    """One execution, ready to run.

    :param execution_id: the execution.
    :param pipeline_name: its pipeline.
    :param code_dir: the pipeline's code on the platform.
    :param function_path: file of the function, relative to the code.
    :param function_name: the function.
    :param kwargs: the non-file inputs.
    :param file_inputs: file inputs: input name -> file on the platform.
    :param file_outputs: names of the declared file outputs.
    :param env: the platform's environment variables for the pipeline.
    :param exec_dir: the execution's folder on the platform.
    :param timeout_s: the deployment's ``execution_timeout_s``.
    :param attach: the execution already runs (re-attaching after a platform restart).
    :param credential: the execution's credential (``TokenIssuer.execution_credential``): what
        its SDK exchanges for access tokens that record this execution's metrics, nothing else.
    """

    execution_id: str
    pipeline_name: str
    code_dir: Path
    function_path: str
    function_name: str
    kwargs: dict[str, Any]
    file_inputs: dict[str, Path]
    file_outputs: list[str]
    env: dict[str, str]
    exec_dir: Path
    timeout_s: float | None = None
    attach: bool = False
    credential: str = field(default="", repr=False)

    @property
    def work(self) -> Path:
        """The folder file outputs are relative to."""
        return self.exec_dir / "work"

    @property
    def result_path(self) -> Path:
        """Where the result (``{"outputs": ...}`` or ``{"error": ...}``) is written."""
        return self.exec_dir / "result.json"


@dataclass
class Outcome:
    """How a run ended, before its result is read.

    :param returncode: exit code of the pipeline process, if known.
    :param timed_out: stopped for exceeding ``timeout_s``.
    :param error: the runtime lost the execution (pod deleted, out of memory…): ends ``Error``.
    :param detached: the platform stops and leaves the execution running, to re-attach later.
    """

    returncode: int | None = None
    timed_out: bool = False
    timeout_s: float | None = None
    error: str | None = None
    detached: bool = False


def sdk_environment(platform_url: str, launch: Launch) -> dict[str, str]:
    """The variables that make the official SDK inside pipeline code (``CraftAiSdk()`` with no
    argument) reach this platform as the execution of ``launch``, as on a real platform: the
    environment and control URLs, the execution's credential as its SDK token, its id.

    :param platform_url: where the execution reaches the platform (the runtime knows).
    """
    return {
        "CRAFT_AI_ENVIRONMENT_URL": platform_url,
        "CRAFT_AI_CONTROL_URL": platform_url,
        "CRAFT_AI_SDK_TOKEN": launch.credential,
        "CRAFT_AI_EXECUTION_ID": launch.execution_id,
    }


class Runtime(Protocol):
    """What the runner needs from a runtime."""

    #: On a platform stop, running executions are left running (and re-attached at the next
    #: start) instead of being drained and killed.
    detaches_on_stop: bool

    def run(self, launch: Launch) -> Outcome:
        """Run ``launch`` until it ends (blocking; called from a worker thread)."""

    def kill(self, execution_id: str) -> None:
        """Stop one execution (it is being deleted); a no-op when it does not run."""

    def stop(self) -> None:
        """The platform stops: end (or detach from) every running execution."""

    def reattachable(self, running: list[str]) -> list[str]:
        """Of the executions recorded ``Running``, those still running (after a restart)."""


def make_runtime(config: PlatformConfig, store: Store) -> Runtime:
    """The runtime ``config`` asks for."""
    if config.runtime == "kubernetes":
        from craft_local.runtimes.kubernetes import KubernetesRuntime

        return KubernetesRuntime(config, store)
    if config.runtime != "process":
        raise RuntimeConfigError(
            f"runtime must be 'process' or 'kubernetes', got {config.runtime!r}"
        )
    from craft_local.connection import reachable_url
    from craft_local.isolation import Isolation
    from craft_local.runtimes.process import ProcessRuntime

    return ProcessRuntime(
        store, Isolation(config.pipeline_python), reachable_url(config.host, config.port)
    )
