"""``.. craft-params:: module.Class``: a table of a class's parameters, from its docstring.

Each ``:param name:`` field of the class docstring becomes a row with the parameter's default
(from the signature of ``__init__``) and whether it is templated (``template_fields``). A
parameter of the signature that the docstring does not describe, or a described one the
signature lacks, fails the build: the table and the code cannot drift apart.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

_FIELD = re.compile(r"^:param (\w+):\s*(.*)$")
_TEMPLATED = re.compile(r"\s*\(templated\)\s*$")


def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def param_fields(doc: str) -> dict[str, str]:
    """The ``:param x:`` fields of a docstring, continuation lines joined, in order."""
    fields: dict[str, str] = {}
    current: str | None = None
    for line in inspect.cleandoc(doc).splitlines():
        match = _FIELD.match(line)
        if match:
            current = match.group(1)
            fields[current] = match.group(2).strip()
        elif current and line.startswith(" ") and line.strip():
            fields[current] += " " + line.strip()
        else:
            current = None
    return fields


#: Defaults read from Airflow's configuration when the class is imported: the setting, not the
#: value it had on the machine that built the docs.
_CONFIGURED = {"deferrable": "``[operators] default_deferrable``"}


def _default(parameter: inspect.Parameter) -> str:
    if parameter.name in _CONFIGURED:
        return _CONFIGURED[parameter.name]
    if parameter.default is inspect.Parameter.empty:
        return "required"
    return f"``{parameter.default!r}``"


def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    signature = inspect.signature(cls.__init__)
    return {
        name: p
        for name, p in signature.parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


class CraftParams(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        path = self.arguments[0]
        cls = _import(path)
        fields = param_fields(cls.__doc__ or "")
        own = _parameters(cls)
        # Keyword arguments the class passes on to a base of this project (``**kwargs``).
        parameters = dict(own)
        for base in cls.__mro__[1:]:
            if base.__module__.startswith("craft_airflow.") and "__init__" in vars(base):
                parameters = {**_parameters(base), **parameters}
        undocumented = [name for name in own if name not in fields]
        unknown = [name for name in fields if name not in parameters]
        if undocumented or unknown:
            raise self.error(
                f"{path}: parameters without a :param: field {undocumented}, "
                f":param: fields the signature lacks {unknown}"
            )
        templated = set(getattr(cls, "template_fields", ()))
        rows = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 20 15 10 55",
            "",
            "   * - parameter",
            "     - default",
            "     - templated",
            "     - meaning",
        ]
        for name, text in fields.items():
            rows += [
                f"   * - ``{name}``",
                f"     - {_default(parameters[name])}",
                f"     - {'yes' if name in templated else ''}",
                f"     - {_TEMPLATED.sub('', text)}",
            ]
        container = nodes.container(classes=["craft-params"])
        self.state.nested_parse(StringList(rows, source=path), self.content_offset, container)
        return [container]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("craft-params", CraftParams)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
