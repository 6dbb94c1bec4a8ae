"""Griffe extension for the reference pages: the package's docstrings use a little reStructuredText
(``:class:`~x.Y```, double backquotes, ``::`` before literal blocks), which Markdown would show
as is. Rewrite it to Markdown when the docs are built; the sources stay as they are."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|meth|func|mod|attr|exc|data|obj):`(~?)([^`]+)`")
LITERAL = re.compile(r"``(.+?)``")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def to_markdown(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        line = LITERAL.sub(r"`\1`", ROLE.sub(_role, line))
        if line.strip() == "::":
            line = ""  # a literal block follows; indented, it is a Markdown code block as well
        elif line.endswith(" ::"):
            line = line[:-3]  # "text ::" is "text", then a literal block
        elif line.endswith("::"):
            line = line[:-1]  # "text::" is "text:", then a literal block
        lines.append(line)
    return "\n".join(lines)


class RstToMarkdown(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
