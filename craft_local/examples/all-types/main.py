"""A pipeline with one input and one output of every data type."""


def all_types(text, number=1, flag=False, payload=None, items=None, document=None):
    print(f"text={text!r} number={number} flag={flag}")
    content = ""
    if document is not None:
        with open(document["path"]) as f:  # file inputs arrive as {"path": ...}
            content = f.read()
    with open("report.txt", "w") as f:
        f.write(f"text: {text}\nnumber: {number}\ndocument: {len(content)} characters\n")
    return {
        "text": text.upper(),
        "number": number * 2,
        "flag": not flag,
        "payload": {"received": payload},
        "items": list(reversed(items or [])),
        "report": {"path": "report.txt"},  # file outputs are returned as {"path": ...}
    }
