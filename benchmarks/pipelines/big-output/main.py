"""Writes a file of ``size_bytes`` bytes in 1 MiB blocks (never whole in memory)."""

import os

BLOCK = 1024 * 1024


def write_file(size_bytes):
    size = int(size_bytes)
    block = os.urandom(BLOCK)
    with open("blob.bin", "wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(BLOCK, left)])
            left -= BLOCK
    return {"blob": {"path": os.path.abspath("blob.bin")}}
