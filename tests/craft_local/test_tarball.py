"""Safe extraction of code archives."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from platform_kit import (
    tar_archive,
    tar_member,
)

from craft_local.tarball import UnsafeArchive, safe_extract


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (tar_member("/etc/evil"), "absolute"),
        (tar_member("../evil"), "'..'"),
        (tar_member("a/../../evil"), "'..'"),
        (tar_member("link", tarfile.SYMTYPE, link="/etc/passwd"), "link"),
        (tar_member("hard", tarfile.LNKTYPE, link="main.py"), "link"),
        (tar_member("dev", tarfile.CHRTYPE), "special"),
        (tar_member("fifo", tarfile.FIFOTYPE), "special"),
    ],
)
def test_unsafe_members_are_refused(tmp_path: Path, member: tarfile.TarInfo, reason: str) -> None:
    archive = tar_archive(tar_member("main.py"), member)
    with pytest.raises(UnsafeArchive, match=reason):
        safe_extract(archive, tmp_path / "out", 10_000)
    assert not (tmp_path / "out").exists()  # nothing written before the checks passed
    assert not (tmp_path / "evil").exists()


def test_size_and_garbage_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeArchive, match="larger than"):
        safe_extract(tar_archive(tar_member("big", size=5000)), tmp_path / "a", 4000)
    with pytest.raises(UnsafeArchive, match="not a readable"):
        safe_extract(io.BytesIO(b"not a tarball"), tmp_path / "b", 4000)
    safe_extract(tar_archive(tar_member("ok/file.py", size=10)), tmp_path / "c", 4000)
    assert (tmp_path / "c" / "ok" / "file.py").read_bytes() == b"x" * 10
