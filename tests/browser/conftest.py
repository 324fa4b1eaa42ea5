"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium against a
real deployment: the fixtures of tests/deployment (PostgreSQL, the embedded platform, a
LocalExecutor Airflow with each component its own process).

``make test-browser`` runs this folder. Screenshots go to ``$ARTIFACTS_DIR`` or
``tests/browser/artifacts/``, printed at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment.fixtures import (  # noqa: F401 (fixtures)
    deploy_root,
    local_deployment,
    platform,
    postgres,
    print_phases,
)
from deployment.timings import phase
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or Path(__file__).parent / "artifacts")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1440,1000",
]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    print_phases(terminalreporter)
    shots = sorted(ARTIFACTS.glob("*.png")) if ARTIFACTS.is_dir() else []
    terminalreporter.section("browser screenshots")
    terminalreporter.write_line(f"{len(shots)} screenshots in {ARTIFACTS}")


class Screenshots:
    """Numbered screenshots in the artifacts folder."""

    def __init__(self, driver: webdriver.Chrome, folder: Path) -> None:
        self.driver = driver
        self.folder = folder
        self.count = 0

    def __call__(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    """Chromium with a fresh profile; Selenium Manager is never asked for a driver or browser
    (both paths are given)."""
    profile = Path(tempfile.mkdtemp(prefix="craft-browser-profile-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    with phase("start headless Chromium"):
        driver = webdriver.Chrome(
            service=Service(executable_path=CHROMEDRIVER, log_output=str(profile / "driver.log")),
            options=options,
        )
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def screenshot(browser: webdriver.Chrome) -> Screenshots:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return Screenshots(browser, ARTIFACTS)
