"""Runs for a few seconds (default 3), printing progress."""

import time


def slow(seconds=3):
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        print(f"still working after {time.monotonic() - start:.1f} s")
        time.sleep(min(0.5, max(0.0, seconds - (time.monotonic() - start))))
    return {"slept": seconds}
