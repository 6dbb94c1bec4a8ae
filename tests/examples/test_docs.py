"""The docs show the examples as they are: the code excerpts of the tutorial are the example
app's code, verbatim (whole files are included at build time, by pymdownx.snippets), and the
line ranges of files that pages include start where the pages expect."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def untitled_python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_fastapi_tutorial_shows_the_example_verbatim() -> None:
    page = (ROOT / "docs" / "tutorial" / "fastapi.md").read_text()
    source = (ROOT / "examples" / "fastapi_app" / "app.py").read_text()
    blocks = untitled_python_blocks(page)
    assert len(blocks) == 4
    for block in blocks:
        assert block in source, f"not in examples/fastapi_app/app.py:\n{block}"


def test_the_starlette_tutorial_shows_its_handler_verbatim() -> None:
    page = (ROOT / "docs" / "tutorial" / "index.md").read_text()
    source = (ROOT / "docs" / "tutorial" / "src" / "app.py").read_text()
    chat = [block for block in untitled_python_blocks(page) if "async def chat" in block]
    assert len(chat) == 1 and chat[0] in source


def test_the_javascript_reference_includes_the_readme_from_its_first_example() -> None:
    page = (ROOT / "docs" / "reference" / "javascript.md").read_text()
    (start,) = re.findall(r'--8<-- "client-js/README.md:(\d+):"', page)
    readme = (ROOT / "client-js" / "README.md").read_text().splitlines()
    # The lines before are the title and the introduction, which link to ../README.md (a
    # broken link on the site); the page has its own. The include starts with the example.
    assert readme[int(start) - 1] == "```js"
    assert not readme[int(start) - 2].strip()
    assert readme[int(start) - 3].startswith("No dependencies")


def test_the_curl_page_includes_the_walkthrough_from_its_first_step() -> None:
    page = (ROOT / "docs" / "how-to" / "curl.md").read_text()
    (start,) = re.findall(r'--8<-- "examples/legacy/CURL.md:(\d+):"', page)
    walkthrough = (ROOT / "examples" / "legacy" / "CURL.md").read_text().splitlines()
    # Before it: the title and the introduction (with a link that is broken on the site).
    assert walkthrough[int(start) - 1] == "## 1. Negotiate"
