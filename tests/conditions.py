"""Waiting on a condition with a deadline: the one polling helper the tests share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    condition: Callable[[], Any],
    timeout: float = 20,
    what: str = "condition",
    interval: float = 0.05,
) -> Any:
    """Poll ``condition`` every ``interval`` seconds until truthy (returned) or fail after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
