"""Works for ``seconds`` (a fault meets it mid-flight), then returns its key and a report file,
or fails on purpose: each task of the fault suite has its own key, so the platform's records
say which task started which execution."""

import time


def faults(key, seconds=5, fail="no"):
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        print(f"{key}: working, {time.monotonic() - start:.1f} s")
        time.sleep(min(0.5, max(0.0, seconds - (time.monotonic() - start))))
    if fail == "yes":
        raise ValueError(f"{key} failed on purpose")
    with open("report.txt", "w") as f:
        f.write(f"report of {key}\n")
    return {"key": key, "seconds": seconds, "report": {"path": "report.txt"}}
