"""Each script's source: the shared Lua functions it calls (transitively), then its body.

Redis runs a script's whole source on every call, so defining functions a script does not call
would cost time on every call: each script takes only what it uses.
"""

from __future__ import annotations

import re

__all__ = ["compose"]

_DEFINITION = re.compile(r"^local function (\w+)\(")
_CALL = re.compile(r"\b(\w+)\(")


def _parse(library: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The library's top-level lines that are not functions (constants: kept in every
    script), and its functions, each with the comment lines right above it, in order."""
    header: list[str] = []
    functions: list[tuple[str, list[str]]] = []
    comments: list[str] = []
    current: list[str] | None = None
    for line in library.split("\n"):
        if current is not None:
            current.append(line)
            if line == "end":
                current = None
            continue
        match = _DEFINITION.match(line)
        if match:
            lines = [*comments, line]
            comments = []
            functions.append((match.group(1), lines))
            if not line.rstrip().endswith(" end"):  # not a one-line function
                current = lines
        elif line.startswith("--"):
            comments.append(line)
        else:
            header += [*comments, line]
            comments = []
    return header + comments, functions


def compose(library: str, body: str) -> str:
    """``body`` preceded by the constants of ``library`` and the functions it needs."""
    header, functions = _parse(library)
    sources = {name: "\n".join(lines) for name, lines in functions}
    needed: set[str] = set()
    wanted = {name for name in _CALL.findall(body) if name in sources}
    while wanted:
        name = wanted.pop()
        needed.add(name)
        wanted |= {n for n in _CALL.findall(sources[name]) if n in sources and n not in needed}
    kept = [sources[name] for name, _ in functions if name in needed]
    return "\n".join([*header, *kept]) + "\n" + body
