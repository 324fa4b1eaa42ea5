"""The state the embedded platform's routes share, kept on ``app.state.platform``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Depends, Request

from craft_local.auth import TokenIssuer
from craft_local.config import PlatformConfig
from craft_local.datastore import DataStore
from craft_local.faults import FaultInjector
from craft_local.longpoll import HeldStatuses
from craft_local.runner import Runner
from craft_local.store import Store


class ScheduleClock(Protocol):
    """What the routes ask of the scheduler (``craft_local.scheduler.Scheduler``): its time, which
    a test may have frozen. A protocol, so this module needs nothing of the scheduler's."""

    def now_iso(self) -> str: ...

    @property
    def frozen(self) -> bool: ...


@dataclass
class Platform:
    """The state shared by the routes."""

    config: PlatformConfig
    store: Store
    tokens: TokenIssuer
    runner: Runner
    faults: FaultInjector
    environment_id: str
    datastore: DataStore
    #: Set when a graceful stop begins: long-polls answer at once, nothing new starts.
    stopping: threading.Event = field(default_factory=threading.Event)
    #: Creates the executions of periodic deployments (set by ``create_app``).
    scheduler: ScheduleClock | None = None
    #: The executions that held requests (long-polls) wait for.
    held_statuses: HeldStatuses = field(init=False)

    def __post_init__(self) -> None:
        self.held_statuses = HeldStatuses(self.store, self.stopping)

    def begin_stop(self) -> None:
        """A graceful stop begins (SIGTERM): release held requests, start no new execution."""
        self.stopping.set()
        self.runner.begin_drain()


def get_platform(request: Request) -> Platform:
    """The :class:`Platform` of the app serving ``request`` (a FastAPI dependency too)."""
    platform: Platform = request.app.state.platform
    return platform


#: A route parameter receiving the :class:`Platform` (``platform: PlatformDep``).
PlatformDep = Annotated[Platform, Depends(get_platform)]
