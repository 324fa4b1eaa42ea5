"""A real deployment: PostgreSQL, the embedded platform and Airflow's components as separate
processes on 127.0.0.1, with the provider installed (not editable) in the running venv.

``make test-deployment`` runs this folder. The LocalExecutor deployment is started once for the
session on first use; the Celery one lives for its module only (``test_deployment_celery.py`` runs
first, by name, so the two never run at once on a small machine).
"""

from __future__ import annotations

import pytest
from deployment.fixtures import (  # noqa: F401 (fixtures)
    deploy_root,
    example_runs,
    local_deployment,
    platform,
    postgres,
    print_phases,
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    print_phases(terminalreporter)
