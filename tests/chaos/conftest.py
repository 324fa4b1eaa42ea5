"""The chaos test's figures, echoed in pytest's terminal summary (shown without ``-s``).

The test records them as a report property (``record_property``): reports reach the controlling
process also when pytest-xdist runs the test in a worker.
"""

from __future__ import annotations

from typing import Any

FIGURES = "chaos_figures"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get(
        "failed", []
    ):
        for name, text in getattr(report, "user_properties", ()):
            if name == FIGURES and report.when == "call":
                terminalreporter.write_sep("=", "craft-airflow chaos figures")
                terminalreporter.write_line(text)
