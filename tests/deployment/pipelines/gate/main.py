"""Holds an execution open until the test creates the gate file: a condition, not a duration."""

import os
import time


def gate(gate, index, timeout=300):
    deadline = time.monotonic() + timeout
    print(f"execution {index} waits for {gate}")
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gate {gate} was not opened within {timeout} s")
        time.sleep(0.1)
    print(f"execution {index} passed the gate")
    return {"index": index, "gate": gate}
