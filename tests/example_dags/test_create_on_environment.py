"""``craft_local/examples/create_on_environment.py`` through the official craft-ai-sdk against an
empty embedded platform: the example pipelines and their endpoints are created and run."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from craft_local.examples import EXAMPLE_PIPELINES

SCRIPT = EXAMPLE_PIPELINES / "create_on_environment.py"
SDK_TOKEN = "script-sdk-token-5d1e"


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("create_on_environment", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def empty_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from craft_local.server import EmbeddedPlatform

    with EmbeddedPlatform(tmp_path_factory.mktemp("empty-platform"), sdk_token=SDK_TOKEN) as p:
        yield p


def test_creates_the_example_pipelines_and_endpoints(
    empty_platform: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    from craft_ai_sdk import CraftAiSdk

    monkeypatch.setenv("CRAFT_AI_ENVIRONMENT_URL", empty_platform.url)
    monkeypatch.setenv("CRAFT_AI_CONTROL_URL", empty_platform.url)
    monkeypatch.setenv("CRAFT_AI_SDK_TOKEN", SDK_TOKEN)
    load_script().main(["word-count", "all-types"])
    printed = capsys.readouterr().out
    assert "created pipeline all-types\n  deployment all-types-endpoint" in printed
    assert "created pipeline word-count\n  deployment word-count-endpoint" in printed
    assert "local-token" not in printed

    sdk = CraftAiSdk(verbose_log=False)
    assert {p["pipeline_name"] for p in sdk.list_pipelines()} == {"all-types", "word-count"}
    run = sdk.run_pipeline("all-types", inputs={"text": "made by the script"})
    assert run["outputs"]["text"] == "MADE BY THE SCRIPT"

    deployment = sdk.get_deployment("word-count-endpoint")
    # The declared local token is not sent: the platform generated one.
    assert deployment["endpoint_token"] != "word-count-endpoint-local-token"
    document = tmp_path / "doc.txt"
    document.write_text("three little words")
    with document.open("rb") as f:
        result = sdk.trigger_endpoint(
            "word-count-endpoint", deployment["endpoint_token"], inputs={"document": f}
        )
    assert result["outputs"]["words"] == 3


def test_unknown_names_are_refused() -> None:
    with pytest.raises(SystemExit, match="no-such-pipeline"):
        load_script().declarations(names=["no-such-pipeline"])
