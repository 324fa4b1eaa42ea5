"""The chaos test's figures, echoed in pytest's terminal summary (shown without ``-s``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

FIGURES: pytest.StashKey[dict[str, Any]] = pytest.StashKey()


@pytest.fixture
def chaos_figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A dict the chaos test fills with its figures; printed at the end of the session."""
    figures: dict[str, Any] = {}
    request.config.stash[FIGURES] = figures
    return figures


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES, None)
    if figures:
        terminalreporter.write_sep("=", "craft-airflow chaos figures")
        terminalreporter.write_line(json.dumps(figures, indent=2, sort_keys=True))
