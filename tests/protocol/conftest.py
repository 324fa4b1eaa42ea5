from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_log_secrets(log_secrets):
    """Each test registers the secrets it needs (a ``CallContext`` does) and leaves none."""
