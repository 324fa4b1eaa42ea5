"""Returns its label and a value no other execution returns, so a test can tell which
execution's outputs a DAG run read."""

import uuid


def events(label):
    return {"label": label, "nonce": uuid.uuid4().hex}
