"""The documentation agrees with the package: the changelog's newest version is the one in
pyproject.toml, the README stays a short entry point, and it keeps the two commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 150


def _changelog_versions() -> list[str]:
    text = (REPO_ROOT / "docs" / "changelog.md").read_text()
    return re.findall(r"^## (\d+\.\d+\.\d+\S*)", text, re.M)


def test_the_changelog_top_version_is_the_package_version() -> None:
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    versions = _changelog_versions()
    assert versions, "docs/changelog.md has no '## <version>' heading"
    assert versions[0] == version, (
        f"docs/changelog.md starts at {versions[0]}, pyproject.toml says {version}"
    )


def test_the_readme_is_short_and_keeps_the_two_commands() -> None:
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    assert any(line.startswith("make demo ") for line in lines)
    assert any(line.startswith("make test ") for line in lines)


def test_troubleshooting_has_a_section_per_error_class() -> None:
    from craft_airflow import errors

    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.CraftError)
    }
    text = (REPO_ROOT / "docs" / "troubleshooting.md").read_text()
    missing = sorted(c for c in classes if f"({c.lower()})=\n## {c}\n" not in text)
    assert not missing, f"docs/troubleshooting.md has no section for {missing}"


def test_the_readme_links_only_to_files_that_exist() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    targets = re.findall(r"\]\((?!https?://)([^)#]+)", text)
    assert targets
    missing = [t for t in targets if not (REPO_ROOT / t).is_file()]
    assert not missing, f"README.md links to missing files: {missing}"
