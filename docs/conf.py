"""Sphinx configuration of the craft-airflow documentation (``make docs``).

Sphinx because the Airflow providers document themselves with it, and autodoc reads the
``:param x:`` docstrings the provider already has: the parameters tables and the API reference
come from the code, not from a copy of it. The pages are Markdown (MyST).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

_project = tomllib.loads((HERE.parent / "pyproject.toml").read_text())["project"]

project = "craft-airflow"
author = "craft-airflow contributors"
copyright = "craft-airflow contributors"
release = version = _project["version"]

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "craft_params",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Every [text](#anchor) and [text](page.md#anchor) must point at a heading that exists.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# Every code reference must resolve (make docs runs with -n -W). References into Airflow and the
# libraries below are not checked: their inventories would have to be fetched at build time.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(airflow|aiohttp|requests|fsspec|upath|ssl|datetime|collections|typing|"
        r"logging|pathlib|asyncio|h11|jwt)\b.*",
    ),
    (
        r"py:.*",
        r"(Context|ObjectStoragePath|BaseOperator|BaseSensorOperator|BaseTrigger|"
        r"BaseHook|TriggerEvent|AbstractFileSystem|AbstractBufferedFile|UPath|Connection|"
        r"ResumableJobMixin|AirflowException|timedelta|datetime|Mapping|Sequence|Iterable|"
        r"Iterator|AsyncIterator|Any|T|IO|BinaryIO|Path|PokeReturnValue)",
    ),
    # The provider's internal modules: the API reference documents the stable public ones only
    # (a reference to anything else still fails the build).
    (
        r"py:.*",
        r"(craft_airflow\.)?(operators\._base|outcomes|routes|finishing|starting|ending|names|"
        r"protocol|"
        r"inputs\.files|assets|lineage|journal|hooks\.held_requests|hooks\.shared_state)\b.*",
    ),
    (
        r"py:.*",
        r"(ExecutionIO|WaitOutcome|FinishPlan|CraftRoute|FileInput|Send|FailureKind|"
        r"DataStoreObject|CallContext|DEFAULT_CONTROL_URL|CraftAIHook|Ending|TaskLog|Log|"
        r"Logger|BaseTaskEndEvent|CreationJournal|LiveLogs|LogCursor|Following|FollowSteps)",
    ),
    # Type variables of generic helpers.
    (r"py:class", r"craft_airflow\.hooks\.craft(_async)?\.T"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# An override without a docstring of its own (fsspec's methods) shows none.
autodoc_inherit_docstrings = False
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"craft-airflow {release}"
html_static_path: list[str] = []
