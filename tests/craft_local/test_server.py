"""``EmbeddedPlatform``: a platform that cannot start fails fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from craft_local.server import EmbeddedPlatform


def test_start_fails_fast_on_a_bad_declaration(tmp_path: Path) -> None:
    declared = tmp_path / "declared" / "broken"
    declared.mkdir(parents=True)
    (declared / "pipeline.json").write_text('{"function_path": "missing.py", "function_name": "f"}')
    platform = EmbeddedPlatform(
        tmp_path / "data", sdk_token="t" * 12, pipelines_dir=tmp_path / "declared"
    )
    with pytest.raises(RuntimeError, match=r"missing\.py"):
        platform.start(timeout=20)
    assert not platform.running
