"""Holds an execution open until the test creates the gate file, then returns or fails: every
task of the finishing DAG defers before its execution ends (a condition, not a duration)."""

import os
import time


def finishing(gate, name, fail="no", timeout=300):
    deadline = time.monotonic() + timeout
    print(f"{name} waits for {gate}")
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gate {gate} was not opened within {timeout} s")
        time.sleep(0.1)
    print(f"{name} passed the gate")
    if fail == "yes":
        print(f"{name} is about to fail")
        raise ValueError(f"{name} failed on purpose")
    with open("report.txt", "w") as f:
        f.write(f"report of {name}\n")
    return {"name": name, "length": len(name), "report": {"path": "report.txt"}}
