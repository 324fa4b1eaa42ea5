"""The ``local`` extra: what ``craft-local`` needs beyond the provider, and its entry point.

The provider installs without FastAPI, uvicorn or python-multipart; ``craft-airflow[local]``
adds them. This module imports only the standard library, so the ``craft-local`` script (which
pip installs either way) can say what is missing instead of failing on an import.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata

DISTRIBUTION = "craft-airflow"
EXTRA = "local"
INSTALL_HINT = f'pip install "{DISTRIBUTION}[{EXTRA}]"'

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_IN_EXTRA = re.compile(rf"""extra\s*==\s*["']{EXTRA}["']""")


def extra_requirements(requirements: Iterable[str] | None = None) -> list[str]:
    """The distribution names the ``local`` extra requires.

    :param requirements: ``Requires-Dist`` lines; by default those of the installed
        ``craft-airflow`` (none if it is not installed, e.g. a bare source tree).
    """
    if requirements is None:
        try:
            requirements = metadata.requires(DISTRIBUTION) or []
        except metadata.PackageNotFoundError:
            requirements = []
    names = []
    for line in requirements:
        requirement, _, marker = line.partition(";")
        match = _NAME.match(requirement)
        if match and _IN_EXTRA.search(marker):
            names.append(match.group(1))
    return names


def missing_requirements(requirements: Iterable[str] | None = None) -> list[str]:
    """The distributions of the ``local`` extra that are not installed (presence only: the
    versions are pip's business at install time).

    :param requirements: as for :func:`extra_requirements`.
    """
    missing = []
    for name in extra_requirements(requirements):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def require_extra(requirements: Iterable[str] | None = None) -> None:
    """Exit with the install hint if a distribution of the ``local`` extra is missing.

    :param requirements: as for :func:`extra_requirements`.
    """
    missing = missing_requirements(requirements)
    if missing:
        raise SystemExit(
            f"craft-local: the embedded platform needs the '{EXTRA}' extra of {DISTRIBUTION}"
            f" (missing: {', '.join(missing)}). Install it with:\n    {INSTALL_HINT}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``craft-local`` and ``python -m craft_local``.

    :param argv: the arguments, ``sys.argv[1:]`` when ``None``.
    """
    require_extra()
    from craft_local.cli import main as cli_main

    cli_main(sys.argv[1:] if argv is None else argv)
