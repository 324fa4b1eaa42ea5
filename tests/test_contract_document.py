"""docs/platform-contract.md: every "§N.M" the project cites is a section of it, and no project
file points at a contract document outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACT = REPO_ROOT / "docs" / "platform-contract.md"
CITING = ("craft_airflow", "craft_local", "tests", "benchmarks", "example_dags", "docs")
SUFFIXES = {".py", ".md", ".toml", ".cfg", ".txt", ".yaml", ".yml"}
# "§N" or "§N.M", not one of another document's sections ("RFC 9110 §15.6.4").
_CITATION = re.compile(r"(?<!RFC \d{4} )§ ?(\d+(?:\.\d+)?)")
_HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", re.M)


def _project_files() -> list[Path]:
    files = [REPO_ROOT / "README.md"]
    for top in CITING:
        files += [
            p
            for p in sorted((REPO_ROOT / top).rglob("*"))
            if p.suffix in SUFFIXES and p.is_file() and "__pycache__" not in p.parts
        ]
    return files


def test_every_cited_section_exists():
    sections = set(_HEADING.findall(CONTRACT.read_text()))
    missing = [
        f"{path.relative_to(REPO_ROOT)}:{number}: §{cited}"
        for path in _project_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        for cited in _CITATION.findall(line)
        if cited not in sections
    ]
    assert not missing, "citations of sections docs/platform-contract.md lacks:\n" + "\n".join(
        missing
    )


def test_the_open_questions_have_their_own_sections():
    # The code cites them as "open question 4", "§12.4" or "§12 q.8".
    sections = set(_HEADING.findall(CONTRACT.read_text()))
    assert {f"12.{n}" for n in range(1, 20)} <= sections


def test_no_project_file_points_outside_the_repository():
    outside = [
        str(path.relative_to(REPO_ROOT))
        for path in _project_files()
        if path != Path(__file__).resolve()
        and re.search(r"\.\./shared|craft-platform-api", path.read_text(errors="replace"))
    ]
    assert not outside
