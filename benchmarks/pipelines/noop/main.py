"""Does nothing."""


def noop():
    return {"done": True}
