"""The legacy example's protocol, step by step as its page does it with a native EventSource
and fetch (PROTOCOL.md section 10), here with httpx; and CURL.md, run as written."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from realtime.protocol.sse import SSEParser
from tests.integration.rawclient import hello_ack

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

CURL_MD = Path(__file__).parents[2] / "examples" / "legacy" / "CURL.md"


class Stream:
    """An event stream read the way ``EventSource`` does: ``data`` of each event, raw."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[str] = asyncio.Queue()

    async def read(self, http: httpx.AsyncClient, url: str) -> None:
        parser = SSEParser()
        async with http.stream("GET", url, headers={"accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_bytes():
                for event in parser.feed(chunk):
                    self.events.put_nowait(event.data)

    async def next(self) -> str:
        return await asyncio.wait_for(self.events.get(), 5)


@contextlib.asynccontextmanager
async def event_stream(http: httpx.AsyncClient, url: str) -> AsyncIterator[Stream]:
    stream = Stream()
    task = asyncio.create_task(stream.read(http, url))
    try:
        yield stream
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_protocol_steps_of_the_page(legacy: str) -> None:
    base = f"{legacy}/realtime"
    async with httpx.AsyncClient(timeout=5) as http:
        negotiated = await http.post(f"{base}/negotiate", json={"v": 1, "transports": ["sse"]})
        assert negotiated.status_code == 200
        sid, token = negotiated.json()["sid"], negotiated.json()["token"]
        ticket = negotiated.json()["ticket"]
        assert negotiated.json()["transports"] == ["sse"]

        async def post(*frames: str) -> list[str]:
            answer = await http.post(
                f"{base}/sse?sid={sid}",
                content=json.dumps(frames),
                headers={"content-type": "application/json", "x-realtime-token": token},
            )
            assert answer.status_code == 200, answer.text
            batch: list[str] = answer.json()
            return batch

        async with event_stream(http, f"{base}/sse?sid={sid}&ticket={ticket}&last=0") as stream:
            assert hello_ack(await stream.next()) == 0
            welcome = await stream.next()
            assert welcome.startswith(f"d1:welcome, {sid[:6]}:")
            assert await post("a1") == []
            # A message with a carriage return comes back JSON-escaped: data starts with ".
            assert await post("d1:two\r\nlines") in (["a0"], ["a1"])
            escaped = await stream.next()
            assert escaped.startswith('"')
            assert json.loads(escaped) == f"d2:{sid[:6]}: two\r\nlines"
            assert await post("a2", "c1000:bye") == ["c1000:bye"]
            frames = [await stream.next()]
            while frames[-1] != "c1000:bye" and len(frames) < 3:
                frames.append(await stream.next())  # acks of message 1 may come first
            assert frames[-1] == "c1000:bye"
            assert set(frames[:-1]) <= {"a1"}, frames
        # The session is over: the close event's id is c2, and an EventSource coming back
        # with it (and a fresh ticket: the first one is used up) is told to stop (204).
        used = await http.get(f"{base}/sse?sid={sid}&ticket={ticket}")
        assert (used.status_code, used.json()["code"]) == (403, 4003)
        fresh = await http.post(
            f"{base}/ticket?sid={sid}",
            headers={"content-type": "application/json", "x-realtime-token": token},
        )
        after = await http.get(
            f"{base}/sse?sid={sid}&ticket={fresh.json()['ticket']}",
            headers={"last-event-id": "c2"},
        )
        assert after.status_code == 204


async def test_an_expired_session_is_explained_by_an_empty_post(legacy: str) -> None:
    """What the page does when its EventSource gives up: POST [] and read the refusal."""
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(
            f"{legacy}/realtime/sse?sid=unknown",
            content=b"[]",
            headers={"content-type": "application/json", "x-realtime-token": "nope"},
        )
    assert answer.status_code == 404
    assert answer.json()["code"] == 4000


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", markdown, flags=re.DOTALL)


def test_curl_walkthrough_works_as_written(legacy: str) -> None:
    blocks = shell_blocks(CURL_MD.read_text())
    assert blocks[0].startswith("python -m examples.legacy"), "the first block starts the server"
    # Run every other block in one shell, as a reader pastes them, pausing in between so the
    # background stream prints what it got, against the test server instead of port 8000.
    script = "set -eu\n" + "sleep 0.3\n".join(blocks[1:])
    script = script.replace("http://127.0.0.1:8000", legacy)
    process = subprocess.Popen(
        ["bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the background curl included
    )
    try:
        output, _ = process.communicate(timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started, if still up
    assert process.returncode == 0, output
    expected = [
        'data: h{"ack":0,"token":"',
        "data: d1:welcome, ",
        "id: 2\ndata: d2:",
        ": hello from curl",
        'data: "d3:',
        ': two\\r\\nlines"',
        'data: h{"ack":2,"token":"',
        '["c1000:bye"]',
        "data: c1000:bye",
        '["h{\\"ack\\":0,\\"token\\":\\"',  # the open poll: the hello first
        ": hello by polling",
    ]
    for text in expected:
        assert text in output, f"{text!r} not in the output:\n{output}"
    assert output.count('data: "d3:') == 2, "message 3 is sent again after the resume"
