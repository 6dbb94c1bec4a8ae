"""What one client address can make a server hold: ``python -m bench.address_memory``.

Starts a realtime server with the default settings in a subprocess, on the memory backend or
on Redis (``--redis``), then plays the attacker of issue 17 from one address: it opens
``--sessions`` sessions and POSTs 256 KiB messages to each, to a handler that never reads,
until the server stops taking them or the session's window is full. With ``--websocket`` the
handler echoes instead, and each session sends on a WebSocket that never reads the echoes.

It prints what the server took and how much its memory grew (the server's RSS; with Redis,
redis-server's ``used_memory`` too), and the figure per session: run it with more sessions
to see whether the cost grows with them (one address may open ``max_sessions_per_client``,
1,000 by default). It runs against whatever ``realtime`` is importable, so the same command
measures an older tree (``PYTHONPATH=/path/to/old/tree python -m bench.address_memory``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MESSAGE = "x" * (256 * 1024)
PER_SESSION = 8 * 2**20 // len(MESSAGE)  # the default window, 8 MiB
MIB = 2**20


def serve(port: int, redis_url: str | None, echo: bool) -> None:
    """The server side (run in the subprocess)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from realtime import RealtimeApp, Session

    async def deaf(session: Session) -> None:
        await asyncio.Event().wait()

    async def echoing(session: Session) -> None:
        async for message in session:
            await session.send(message)

    backend = None
    if redis_url:
        from realtime.backends.redis import RedisBackend

        backend = RedisBackend(redis_url, prefix="memory")
    rt = RealtimeApp(echoing if echo else deaf, backend=backend)
    app = Starlette(routes=[Mount("/rt", rt)], lifespan=rt.lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def redis_used(url: str | None) -> int:
    if url is None:
        return 0
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def deaf_websockets(base: str, sessions: int) -> tuple[int, dict[int, int]]:
    """Send every message on a WebSocket that never reads what comes back."""
    from websockets.asyncio.client import connect

    sent = 0
    sockets = []
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(sessions):
            answer = (await http.post(f"{base}/negotiate", json={})).json()
            url = "ws" + base.removeprefix("http") + f"/websocket?sid={answer['sid']}"
            headers = {"x-realtime-token": answer["token"]}
            socket = await connect(url, additional_headers=headers, max_size=None)
            socket.transport.pause_reading()  # the replies stay in the socket: never read
            sockets.append(socket)
            for seq in range(1, PER_SESSION + 1):
                await socket.send(f"d{seq}:{MESSAGE}")
                sent += len(MESSAGE)
    await asyncio.sleep(3)  # the echoes pile up, or find no room
    return sent, {}


async def attack(base: str, sessions: int) -> tuple[int, dict[int, int]]:
    """Bytes the server took, and the statuses of the refusals."""
    taken = 0
    refusals: dict[int, int] = {}
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(sessions):
            answer = (await http.post(f"{base}/negotiate", json={})).json()
            if "sid" not in answer:
                refusals[answer.get("code", 0)] = refusals.get(answer.get("code", 0), 0) + 1
                continue
            for seq in range(1, PER_SESSION + 1):
                response = await http.post(
                    f"{base}/longpoll?sid={answer['sid']}",
                    content=json.dumps([f"d{seq}:{MESSAGE}"]),
                    headers={**headers, "x-realtime-token": answer["token"]},
                )
                if response.status_code != 200:
                    refusals[response.status_code] = refusals.get(response.status_code, 0) + 1
                    break
                taken += len(MESSAGE)
    return taken, refusals


def wait_for(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/rt/negotiate", json={}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--redis", action="store_true", help="on a private redis-server")
    parser.add_argument("--websocket", action="store_true", help="echo to deaf WebSockets")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.redis_url, args.websocket)
        return
    with tempfile.TemporaryDirectory() as scratch:
        if args.redis:
            from tests.servers import redis_server

            with redis_server(Path(scratch)) as (url, _):
                asyncio.run(measure(args.sessions, url, args.websocket))
        else:
            asyncio.run(measure(args.sessions, None, args.websocket))


async def measure(sessions: int, redis_url: str | None, websocket: bool) -> None:
    from tests.servers import free_port

    port = free_port()
    command = [sys.executable, "-m", "bench.address_memory", "--serve", str(port)]
    if redis_url:
        command += ["--redis-url", redis_url]
    if websocket:
        command += ["--websocket"]
    server = subprocess.Popen(command, env=os.environ.copy())
    try:
        wait_for(port, time.monotonic() + 20)
        await asyncio.sleep(0.5)
        rss_before, redis_before = rss(server.pid), await redis_used(redis_url)
        play = deaf_websockets if websocket else attack
        taken, refusals = await play(f"http://127.0.0.1:{port}/rt", sessions)
        await asyncio.sleep(0.5)
        grown = rss(server.pid) - rss_before
        redis_grown = await redis_used(redis_url) - redis_before
    finally:
        server.terminate()
        server.wait(10)
    kind = "deaf WebSockets to an echo" if websocket else "POSTs to a handler that never reads"
    print(f"backend: {'redis' if redis_url else 'memory'}; {sessions} sessions from one address")
    print(f"{kind}: {taken / MIB:.1f} MiB {'sent' if websocket else 'taken'}", end="")
    print(f"; refusals by status: {refusals or 'none'}")
    print(f"server RSS grew {grown / MIB:.1f} MiB ({grown / sessions / MIB:.2f} MiB per session)")
    if redis_url:
        print(f"redis used_memory grew {redis_grown / MIB:.1f} MiB")


if __name__ == "__main__":
    main()
