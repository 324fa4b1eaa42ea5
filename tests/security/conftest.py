"""The secret-hygiene tests import their shared search helpers (``secret_search``) by name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
