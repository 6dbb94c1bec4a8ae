"""Ctrl+C (or SIGTERM) on a server, plain uvicorn or ``realtime.uvicorn.serve``: every transport
is told to reconnect (1012), the server exits at once, and nothing is logged as an error.

uvicorn waits for open responses before its lifespan shutdown, and an event stream or a
pending long-poll never ends by itself; the app drains on the signal itself
(realtime/server/signals.py), so they end within the server's first steps of shutdown.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from realtime.protocol.sse import SSEParser
from tests.integration.rawclient import negotiate
from tests.servers import die_with_parent, free_port, wait_for_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


SERVE = (
    "import sys; from realtime.uvicorn import serve; from tests.integration.app import build_app;"
    " serve(build_app(), host='127.0.0.1', port=int(sys.argv[1]), timeout_graceful_shutdown=10)"
)


def command(server: str, port: int) -> list[str]:
    if server == "uvicorn":  # the tutorial's way: plain uvicorn, from the command line
        return [
            sys.executable, "-m", "uvicorn", "--factory", "tests.integration.app:build_app",
            "--host", "127.0.0.1", "--port", str(port), "--timeout-graceful-shutdown", "10",
        ]  # fmt: skip
    return [sys.executable, "-c", SERVE, str(port)]  # realtime.uvicorn.serve


@pytest.mark.parametrize("how", ["uvicorn", "realtime.uvicorn.serve"])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_stop_signal_tells_every_transport_to_reconnect(
    how: str, stop: signal.Signals
) -> None:
    port = free_port()
    server = subprocess.Popen(
        command(how, port),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}/echo"
        async with httpx.AsyncClient(timeout=30) as http:
            streaming, polling, socketing = [await negotiate(http, base) for _ in range(3)]
            sse_events: list[str] = []
            stream_open = asyncio.Event()

            async def read_stream() -> None:
                parser = SSEParser()
                url = streaming.url("sse", ticket=await streaming.ticket(http))
                async with http.stream("GET", url) as response:
                    async for chunk in response.aiter_bytes():
                        for event in parser.feed(chunk):
                            sse_events.append(event.data)
                            stream_open.set()

            async def poll() -> list[str]:
                url = polling.url("longpoll")
                opened = await http.get(f"{url}&open=1", headers=polling.headers)
                assert opened.json()[0].startswith("h")
                waited = await http.get(url, headers=polling.headers)  # nothing is queued
                frames: list[str] = waited.json()
                return frames

            websocket = await ws_connect(
                "ws" + socketing.url("websocket").removeprefix("http"),
                additional_headers=socketing.headers,
            )
            assert str(await websocket.recv()).startswith("h")
            reader = asyncio.create_task(read_stream())
            poller = asyncio.create_task(poll())
            async with asyncio.timeout(10):
                await stream_open.wait()
                snapshot = f"http://127.0.0.1:{port}/snapshot/echo/{polling.sid}"
                while (await http.get(snapshot)).json()["status"] != 1:  # until it waits
                    await asyncio.sleep(0.01)
            server.send_signal(stop)
            async with asyncio.timeout(8):  # well within the server's graceful timeout (10 s)
                await reader
                poll_answer = await poller
                with pytest.raises(ConnectionClosed):
                    while True:
                        await websocket.recv()
        assert sse_events[-1].startswith("r1012:")
        assert poll_answer[-1].startswith("r1012:")
        assert websocket.close_code == 1012
        _, log = server.communicate(timeout=8)
        # Exited by itself: 0, or by the signal, which uvicorn raises again once it is done.
        assert server.returncode in (0, -stop), log
        assert "ERROR" not in log, log
        assert "Cancel" not in log, log
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=10)
