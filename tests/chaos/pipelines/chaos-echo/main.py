"""Echo the index with values derived from it, after holding ``hold`` seconds."""

import time


def echo(index, hold=0):
    time.sleep(hold)
    print(f"echo {index}")
    return {"index": index, "square": index * index, "tag": f"task-{index}"}
