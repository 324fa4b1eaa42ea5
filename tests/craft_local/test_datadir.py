"""The data dir: private to the platform's user; work folders swept after a crash."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from platform_kit import Api, create_pipeline, start_platform

from craft_local.datadir import STAGING_PREFIX, make_private, sweep_leftovers

HOLD = (
    "import os, time\n"
    "def main():\n"
    "    open('started', 'w').close()\n"
    "    while True:\n"
    "        time.sleep(0.2)\n"
)


def _others_bits(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode) & 0o077


def test_make_private_takes_other_permissions_off(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "platform.db").write_text("x")
    os.chmod(data / "platform.db", 0o644)
    make_private(data)
    assert _others_bits(data) == 0
    assert _others_bits(data / "platform.db") == 0


def test_sweep_keeps_the_work_of_running_executions(tmp_path: Path) -> None:
    executions = tmp_path / "executions"
    for name in ("gone", "running"):
        (executions / name / "work").mkdir(parents=True)
        (executions / name / "result.json").write_text("{}")
    (tmp_path / f"{STAGING_PREFIX}abc").mkdir()
    assert sweep_leftovers(tmp_path, executions, {"running"}) == 2
    assert not (executions / "gone" / "work").exists()
    assert (executions / "gone" / "result.json").exists()
    assert (executions / "running" / "work").exists()
    assert not (tmp_path / f"{STAGING_PREFIX}abc").exists()


def test_files_are_private_and_work_folders_do_not_outlive_a_crash(tmp_path: Path) -> None:
    platform = start_platform(tmp_path / "data", declared=False)
    try:
        api = Api(platform.url, platform.sdk_token)
        assert create_pipeline(api, "hold", HOLD).status_code == 200
        execution_id = api.start("hold")
        work = platform.data_dir / "executions" / execution_id / "work"
        api.wait_for(execution_id, {"Running"})
        from conditions import wait_until

        wait_until(lambda: any(work.rglob("started")), 20, "the pipeline to start")
        for path in [platform.data_dir, *platform.data_dir.rglob("*")]:
            if path.name == "platform.log":  # written by the test harness, not the platform
                continue
            assert _others_bits(path) == 0, path
        platform.kill()  # a crash: nothing cleans up
        assert work.exists()
        platform.start()
        assert not work.exists()
        assert api.execution(execution_id)["status"] == "Error"
    finally:
        platform.stop()
