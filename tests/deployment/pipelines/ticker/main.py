"""Prints a numbered line every second (flushed: the platform stores each line as it comes),
for the live logs test: the task's log must show some of them before the execution ends."""

import time


def ticker(name, count=20):
    for i in range(int(count)):
        print(f"{name} tick {i}", flush=True)
        time.sleep(1)
    return {"printed": int(count)}
