"""The example pipelines shipped in the package (``craft-local serve --examples``)."""

from __future__ import annotations

import json
from pathlib import Path

from platform_kit import TOKEN, Api

from craft_local.cli import build_parser, config_from_args
from craft_local.examples import EXAMPLE_PIPELINES
from craft_local.server import EmbeddedPlatform

#: What the example DAGs run (tests/example_dags checks they use nothing else).
EXAMPLES = {"all-types", "failing", "slow", "train-model", "word-count"}


def test_the_examples_live_in_the_package() -> None:
    assert EXAMPLE_PIPELINES.parent.name == "craft_local"
    found = {p.parent.name for p in EXAMPLE_PIPELINES.glob("*/pipeline.json")}
    assert found == EXAMPLES


def test_examples_is_a_flag_also_read_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    base = ["serve", "--data-dir", str(tmp_path), "--sdk-token", "t"]
    assert config_from_args(build_parser().parse_args(base)).examples is False
    assert config_from_args(build_parser().parse_args([*base, "--examples"])).examples is True
    monkeypatch.setenv("CRAFT_LOCAL_EXAMPLES", "true")
    assert config_from_args(build_parser().parse_args(base)).examples is True


def test_serve_examples_declares_them_beside_the_own_pipelines_and_runs_them(
    tmp_path: Path,
) -> None:
    """``--examples`` with ``--pipelines``: the examples, then the folder's own pipelines (one
    of them replacing an example of the same name)."""
    own = tmp_path / "own"
    for name, answer in (("mine", "own"), ("slow", "replaced")):
        (own / name).mkdir(parents=True)
        (own / name / "main.py").write_text(f"def main():\n    return {{'said': {answer!r}}}\n")
        declaration = {
            "function_path": "main.py",
            "function_name": "main",
            "outputs": [{"name": "said", "data_type": "string"}],
        }
        (own / name / "pipeline.json").write_text(json.dumps(declaration))
    platform = EmbeddedPlatform(
        tmp_path / "data", sdk_token=TOKEN, pipelines_dir=own, extra_args=["--examples"]
    ).start()
    try:
        api = Api(platform.url, TOKEN)
        names = {p["pipeline_name"] for p in api.get("/api/v1/pipelines").json()}
        assert names == EXAMPLES | {"mine"}
        execution_id = api.start("all-types", {"text": "shipped"})
        outputs = {o["pipeline_output_name"]: o for o in api.outputs(execution_id)["outputs"]}
        assert outputs["text"]["value"] == "SHIPPED"
        replaced = api.outputs(api.start("slow"))["outputs"]
        assert [o["value"] for o in replaced] == ["replaced"]
        endpoint = api.get("/api/v1/deployments/word-count-endpoint").json()
        assert endpoint["pipeline"]["name"] == "word-count"
    finally:
        platform.stop()
