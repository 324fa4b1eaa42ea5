"""Creating an execution from a request: a refused request leaves nothing behind."""

from __future__ import annotations

from platform_kit import Api

from craft_local.server import EmbeddedPlatform


def test_a_refused_run_leaves_no_execution_folder(platform: EmbeddedPlatform, api: Api) -> None:
    executions = platform.data_dir / "executions"
    before = set(executions.iterdir()) if executions.exists() else set()
    refused = api.run("all-types", {"nope": 1}, files={"document": ("d.txt", b"saved first")})
    assert refused.status_code == 400, refused.text
    assert (set(executions.iterdir()) if executions.exists() else set()) == before


def test_an_accepted_run_is_queued_with_its_saved_file(api: Api) -> None:
    done = api.finish("word-count", files={"document": ("d.txt", b"one two")})
    assert done["status"] == "Succeeded"
    document = api.get(f"/api/v1/executions/{done['execution_id']}/inputs/document")
    assert document.content == b"one two"
