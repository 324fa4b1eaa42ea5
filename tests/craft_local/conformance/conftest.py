"""The official craft-ai-sdk pointed at the session's embedded platform."""

from __future__ import annotations

from typing import Any

import pytest
from craft_ai_sdk import CraftAiSdk


@pytest.fixture(scope="session")
def sdk(craft_platform: Any) -> CraftAiSdk:
    """An SDK client; environment URL and control URL are both the platform's URL."""
    return CraftAiSdk(
        sdk_token=craft_platform.sdk_token,
        environment_url=craft_platform.url,
        control_url=craft_platform.url,
        verbose_log=False,
    )
