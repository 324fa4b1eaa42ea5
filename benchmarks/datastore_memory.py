"""Peak memory and time of moving a large object through the ``craft://`` filesystem.

For each case, a fresh Python process (its peak RSS is a high-water mark) talks to the embedded
platform's data store through ``ObjectStoragePath``:

* ``write``: ``open("wb")`` and ``write`` 1 MiB chunks (spooled to a temporary file, uploaded
  streamed on close);
* ``read``: ``open("rb")`` and ``read`` 1 MiB chunks (``Range`` requests of the block size);
* ``copy in``: ``ObjectStoragePath.copy`` of a local file into the data store (one upload);
* ``copy out``: ``ObjectStoragePath.copy`` of the object to a local file (one streamed GET).

The child first runs the case with 1 MiB (imports and code paths warm), resets its peak RSS
(``/proc/self/clear_refs``), runs the case and reports VmHWM - VmRSS before.

Usage: ``python benchmarks/datastore_memory.py [--sizes-mib 64]`` (or ``BENCH_SIZES_MIB=64``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import _common as c
from output_streaming_memory import BLOCK, arguments, in_child, peak_figures, write_file

CASES = ("write", "read", "copy in", "copy out")


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(BLOCK):
            h.update(chunk)
    return h.hexdigest()


def run_case(case: str, size: int, work: Path, tag: str) -> None:
    from airflow.sdk import ObjectStoragePath

    local = work / f"local-{tag}.bin"
    remote = ObjectStoragePath(f"craft://craft_ai_default@/bench/{tag}.bin")
    if case in ("write", "copy in"):
        if case == "write":
            block = os.urandom(BLOCK)
            with remote.open("wb") as sink:
                for offset in range(0, size, BLOCK):
                    sink.write(block[: min(BLOCK, size - offset)])
        else:
            ObjectStoragePath(f"file://{local}").copy(remote)
            assert remote.stat().st_size == local.stat().st_size
        assert remote.stat().st_size == size
    elif case == "read":
        read = 0
        with remote.open("rb") as source:
            while chunk := source.read(BLOCK):
                read += len(chunk)
        assert read == size, (read, size)
    else:
        out = work / f"out-{tag}.bin"
        remote.copy(ObjectStoragePath(f"file://{out}"))
        assert out.stat().st_size == size
        out.unlink()


def child(case: str, size: int, work: Path) -> None:
    """Warm up with 1 MiB, then measure ``case`` at ``size``; print one JSON line."""
    peak_figures(lambda n, tag: run_case(case, n, work, tag), size, work)


def main() -> None:
    args = arguments(CASES, "64")
    if args.child:
        child(args.child, args.size, args.work)
        return
    sizes = [int(float(s) * 2**20) for s in args.sizes_mib.split(",")]
    rows = []
    with c.temp_root("craft-bench-datastore-") as root:
        c.airflow_env(root)  # inherited by the children
        work = root / "work"
        work.mkdir()
        limit = str(max(sizes) * 2 + 16 * BLOCK)
        with c.platform(root, "--max-request-bytes", limit) as platform:
            c.set_connection(platform.url)
            for size in sizes:
                write_file(work / "local-warm.bin", BLOCK)
                write_file(work / "local-big.bin", size)
                for case in CASES:
                    c.progress(f"{case}: {c.mib(size)} MiB")
                    f = in_child(__file__, case, size, work)
                    delta = f["peak"] - f["rss_before"]
                    rows.append(
                        [
                            case,
                            c.mib(size),
                            c.mib(delta),
                            f"{delta / size:.3f}",
                            f"{f['seconds']:.1f}",
                            f"{size / 2**20 / f['seconds']:.0f}",
                        ]
                    )
                    if not f["reset"]:
                        print("warning: peak RSS could not be reset; deltas include the warm-up")
                stored = Path(platform.data_dir) / "datastore" / "bench" / "big.bin"
                assert digest(stored) == digest(work / "local-big.bin")
    print("\nPeak RSS growth moving one object through craft:// (fresh process per case):\n")
    headers = ["case", "object MiB", "peak delta MiB", "delta / size", "s", "MiB/s"]
    print(c.table(headers, rows))


if __name__ == "__main__":
    main()
