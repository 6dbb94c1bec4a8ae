"""SECURITY.md and the delivery guarantees page name the tests that prove each claim: every
test they name must exist, so that a renamed or deleted test cannot leave a claim unproved."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"`([\w/.]*\.py)?((?:::\w+)?)`|`::(\w+)`")


def claims_in(document: Path) -> list[tuple[Path, str | None]]:
    """(file, test function or None) for every test a document names; ``::name`` refers to
    the last file named before it on the same line."""
    files = {path.name: path for path in (ROOT / "tests").rglob("test_*.py")}
    found: list[tuple[Path, str | None]] = []
    for line in document.read_text().splitlines():
        current: Path | None = None
        for match in REFERENCE.finditer(line):
            file, function, bare = match.groups()
            if file:
                current = ROOT / file if "/" in file else files.get(file, ROOT / file)
                found.append((current, function[2:] or None))
            elif bare and current is not None:
                found.append((current, bare))
    return found


def defined_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
    }


@pytest.mark.parametrize("document", ["SECURITY.md", "docs/topics/delivery.md"])
def test_every_named_test_exists(document: str) -> None:
    named = claims_in(ROOT / document)
    assert len(named) >= 15  # the parser found the table
    for path, function in named:
        assert path.exists(), f"{document} names {path.relative_to(ROOT)}, which does not exist"
        if path.is_file() and function is not None:
            assert function in defined_functions(path), (
                f"{document}: {path.name}::{function} is gone"
            )
