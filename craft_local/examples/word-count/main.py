"""Counts words; its file output can feed another pipeline's file input."""


def word_count(document):
    with open(document["path"]) as f:
        text = f.read()
    words = len(text.split())
    print(f"{words} words")
    with open("upper.txt", "w") as f:
        f.write(text.upper())
    return {"words": words, "upper": {"path": "upper.txt"}}
