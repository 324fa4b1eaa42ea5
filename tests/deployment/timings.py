"""Wall time of each phase of a deployment suite, printed in pytest's summary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

PHASES: list[tuple[str, float]] = []


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Record how long the ``with`` block took under ``name`` (also when it fails)."""
    start = time.monotonic()
    try:
        yield
    finally:
        PHASES.append((name, time.monotonic() - start))


def report() -> list[str]:
    return [f"{seconds:7.1f} s  {name}" for name, seconds in PHASES]
