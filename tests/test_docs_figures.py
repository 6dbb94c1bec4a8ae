"""The client's size that the documents give is the size of the script-tag build that the
package serves, minified and gzipped (level 9) as ``npm run size`` measures it, in KB of
1,000 bytes with one decimal."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURE = re.compile(r"(\d+\.\d) KB min\+gzip")
DOCUMENTS = ["README.md", "docs/pypi.md", "docs/reference/javascript.md", "CHANGELOG.md"]
MEASURE = """
const { readFileSync } = require("node:fs");
const { gzipSync } = require("node:zlib");
console.log(gzipSync(readFileSync(process.argv[1]), { level: 9 }).length);
"""


@pytest.fixture(scope="module")
def measured() -> str:
    node = shutil.which("node")
    assert node is not None, "node is needed to measure the client as npm run size does"
    script = ROOT / "realtime" / "static" / "realtime.min.js"
    out = subprocess.run(
        [node, "-e", MEASURE, str(script)], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    return f"{int(out) / 1000:.1f}"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_size_given_is_the_size_measured(document: str, measured: str) -> None:
    figures = FIGURE.findall((ROOT / document).read_text())
    assert figures, f"{document} gives no size any more: drop it from this test"
    assert set(figures) == {measured}, f"{document} says {figures} KB, the build is {measured} KB"
