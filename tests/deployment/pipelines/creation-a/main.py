"""Returns its inputs: which case, which task."""


def echo(case, n):
    return {"echo": f"{case}-{n}"}
