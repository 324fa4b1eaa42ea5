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


def _registered_classes() -> list[str]:
    """Every operator, sensor and trigger class the provider registers (get_provider_info)."""
    import importlib
    import inspect

    from airflow.sdk import BaseOperator
    from airflow.triggers.base import BaseTrigger

    from craft_airflow.get_provider_info import get_provider_info

    info = get_provider_info()
    modules = [
        module
        for kind in ("operators", "sensors", "triggers")
        for entry in info[kind]
        for module in entry["python-modules"]
    ]
    found = []
    for name in modules:
        module = importlib.import_module(name)
        for cls_name, cls in vars(module).items():
            if (
                inspect.isclass(cls)
                and cls.__module__ == name
                and not cls_name.startswith("_")
                and issubclass(cls, BaseOperator | BaseTrigger)
            ):
                found.append(f"{name}.{cls_name}")
    return found


def test_every_operator_sensor_and_trigger_has_its_page_in_the_home_page_toctree() -> None:
    """One page each, with the parameters table generated from the docstring, listed in the
    home page's table of contents (one click away)."""
    classes = _registered_classes()
    assert len(classes) >= 8, classes
    index = (REPO_ROOT / "docs" / "index.md").read_text()
    pages = {
        path: path.read_text()
        for folder in ("operators", "sensors", "triggers")
        for path in (REPO_ROOT / "docs" / folder).glob("*.md")
    }
    for path in sorted(classes):
        holding = [p for p, text in pages.items() if f".. craft-params:: {path}\n" in text]
        assert len(holding) == 1, f"{path}: no page (or several) under docs/ with its parameters"
        page = holding[0].relative_to(REPO_ROOT / "docs").with_suffix("").as_posix()
        assert f"\n{page}\n" in index, f"docs/index.md's toctree does not list {page}"
        assert f"({page}.md)" in index, f"docs/index.md does not link to {page}.md"
        assert "```{literalinclude} ../../example_dags/" in pages[holding[0]], (
            f"{page}: no example included from example_dags/"
        )
