"""Always fails with a clear message."""


def failing(message="this pipeline always fails"):
    print("about to fail")
    raise ValueError(message)
