"""Sleeps for ``seconds``, printing a line every half second (as craft_local/examples/slow)."""

import time


def slow(seconds=3):
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        print(f"still working after {time.monotonic() - start:.1f} s")
        time.sleep(min(0.5, max(0.0, seconds - (time.monotonic() - start))))
    return {"slept": seconds}
