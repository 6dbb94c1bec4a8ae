"""PROTOCOL.md section 10's curl walkthrough, read from the document and run as written, many
times in a row, on both backends: a client written from the document must not be racy."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.rawclient import hello_ack

pytestmark = [pytest.mark.integration]

PROTOCOL = Path(__file__).resolve().parents[2] / "PROTOCOL.md"
RUNS = 20


def walkthrough() -> str:
    """The shell block that follows the ``**curl.**`` paragraph of section 10."""
    text = PROTOCOL.read_text()
    section = text[text.index("## 10. Using the protocol without a client library") :]
    after = section[section.index("**curl.**") :]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match is not None, "section 10 has no curl walkthrough"
    return match.group(1)


def test_the_walkthrough_is_where_the_test_looks() -> None:
    script = walkthrough()
    assert script.startswith("BASE=")
    assert "curl" in script and "c1000:bye" in script


def test_the_curl_walkthrough_runs_as_written(server: str, tmp_path: Path) -> None:
    assert shutil.which("curl") is not None, "the walkthrough needs curl"
    script = walkthrough()
    _, rest = script.split("\n", 1)
    script = f"BASE={server}/echo\n{rest}"  # the document's app is one that echoes
    for run in range(RUNS):
        folder = tmp_path / str(run)
        folder.mkdir()
        done = subprocess.run(
            ["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, (run, done.stdout, done.stderr)
        answers = [line for line in done.stdout.splitlines() if line.startswith("[")]
        assert json.loads(answers[0]) in (["a0"], ["a1"]), (run, done.stdout)
        assert json.loads(answers[1]) == ["c1000:bye"], (run, done.stdout)
        events = [line for line in done.stdout.splitlines() if line.startswith("data: ")]
        assert hello_ack(events[0].removeprefix("data: ")) == 0, (run, events)
        assert "data: d1:hello" in events, (run, events)
        assert events[-1] == "data: c1000:bye", (run, events)
        assert not any(event.startswith(("data: c1002", "data: r")) for event in events)
