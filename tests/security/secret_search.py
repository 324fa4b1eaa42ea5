"""Searching texts for secrets: token values and anything shaped like a JWT.

Shared by the secret-hygiene tests. Reports name where a secret was found and show its
surroundings with every secret replaced by its label, so a failing test leaks nothing itself.
"""

from __future__ import annotations

import contextlib
import pickle
import re
import sqlite3
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JWT_SHAPE = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def hide(text: str, tokens: dict[str, str]) -> str:
    """``text`` with every secret replaced by its label and every JWT by ``<JWT>``."""
    for label, token in tokens.items():
        text = text.replace(token, f"<{label}>")
    return JWT_SHAPE.sub("<JWT>", text)


@dataclass(repr=False)  # a failing test prints its arguments: no secrets
class Corpus:
    """Texts to search, each with where it came from."""

    texts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, value: Any) -> None:
        if isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            self.texts.append((where, data.decode("latin-1")))
            # Compressed blobs (e.g. serialized DAGs) are searched decompressed too.
            with contextlib.suppress(zlib.error):
                self.texts.append((f"{where} (zlib)", zlib.decompress(data).decode("latin-1")))
        elif value is not None:
            self.texts.append((where, value if isinstance(value, str) else str(value)))

    def add_tree(self, where: str, root: Path) -> None:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            self.add(f"{where}/{path.relative_to(root)}", path.read_bytes())

    def add_database(self, where: str, db_path: Path) -> None:
        """Every column of every row of every table of a SQLite database."""
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                cursor = db.execute(f'SELECT * FROM "{table}"')
                columns = [c[0] for c in cursor.description]
                for row in cursor:
                    for column, value in zip(columns, row, strict=True):
                        if isinstance(value, str | bytes):
                            self.add(f"{where}: {table}.{column}", value)

    def find(self, tokens: dict[str, str]) -> list[str]:
        """``where: what`` for every token value or JWT-shaped string found."""
        found = []
        for where, text in self.texts:
            found += [f"{where}: {label}" for label, token in tokens.items() if token in text]
            found += [f"{where}: JWT {m[:16]}..." for m in JWT_SHAPE.findall(text)]
        return found

    def context(self, tokens: dict[str, str], width: int = 160) -> list[str]:
        """Where each finding sits, the secret itself replaced by its label (for reports)."""
        lines = []
        for where, text in self.texts:
            for token in tokens.values():
                start = text.find(token)
                if start >= 0:
                    around = text[max(0, start - width) : start + len(token) + width]
                    lines.append(f"{where}: ...{hide(around, tokens)}...")
            for match in JWT_SHAPE.finditer(text):
                around = text[max(0, match.start() - width) : match.start()]
                lines.append(f"{where}: ...{hide(around, tokens)}<JWT>")
        return lines


def exception_texts(exc: BaseException) -> list[str]:
    """Everything an exception can show: its text, repr, traceback, pickled form, arguments
    and attributes, for it and each exception in its cause/context chain."""
    texts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        # Unpicklable third-party exceptions: their other forms suffice.
        with contextlib.suppress(Exception):
            texts.append(pickle.dumps(current).decode("latin-1"))
        stack += [current.__cause__, current.__context__]
    return texts
