"""Returns the size of a file input, read 1 MiB at a time."""


def measure(document):
    size = 0
    with open(document["path"], "rb") as data:
        while block := data.read(1024 * 1024):
            size += len(block)
    return {"size_bytes": size}
