"""Time to first message through a hostile proxy (bench.proxy), from a standing start.

The clock starts before the client's first request and stops when the echo of its first
message arrives: discovery of a working transport, the session's opening, one message up
and its echo down. Every attempt opens new connections through the proxy.

- ``ws_blocked``: the proxy answers 404 to WebSocket upgrades.
- ``sse_buffered``: the same, and it also holds back the body of event streams.

What each system's client does:

- realtime: ``POST /negotiate``, then the offered transports in order, as realtime's client
  does: WebSocket (refused), SSE (counts once its hello arrives; with a buffering proxy it
  never does, and the client gives up after ``open_timeout``), then long-polling.
- python-socketio: its default client path: a polling handshake, connect (``40``) over
  polling, and the echo over polling; the WebSocket upgrade probe (refused) runs beside it.
- raw: the floor: a client that tries WebSocket and, refused, goes straight to the
  transport that works (SSE, or long-polling when SSE is buffered), with no negotiation and
  no wait to discover the buffering.
"""

from __future__ import annotations

import asyncio
import time

from websockets.exceptions import InvalidHandshake

from bench.loadgen.base import Client, Refused, Target
from bench.loadgen.raw import RawLongPoll, RawSSE, RawWebSocket
from bench.loadgen.realtime import (
    RealtimeClient,
    RealtimeLongPoll,
    RealtimeSSE,
    RealtimeWebSocket,
)
from bench.loadgen.socketio import SocketIOPolling
from bench.proxy import HostileProxy
from bench.scenarios.common import Result, ScenarioError
from bench.servers import ServerProcess
from bench.settings import Settings
from bench.stats import median

__all__ = ["ttfm"]

FIRST = "first"
REALTIME_CLIENTS: dict[str, type[RealtimeClient]] = {
    "websocket": RealtimeWebSocket,
    "sse": RealtimeSSE,
    "longpoll": RealtimeLongPoll,
}


async def _echo_first(client: Client, timeout: float) -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    client.sink = future.set_result
    await client.send(FIRST)
    echoed = await asyncio.wait_for(future, timeout)
    if echoed != FIRST:
        raise ScenarioError(f"first echo mismatch: {echoed!r}")


async def _realtime(target: Target, settings: Settings) -> tuple[Client, str]:
    negotiator = RealtimeLongPoll(target)
    try:
        offered = await negotiator.negotiate()
    finally:
        await negotiator.close()
    session = (negotiator.sid, negotiator.token)
    for name in offered:
        client = REALTIME_CLIENTS[name](target, session)
        try:
            await asyncio.wait_for(client.attach(), settings.open_timeout)
        except (Refused, InvalidHandshake, OSError, TimeoutError):
            await client.close()
            continue
        return client, name
    raise ScenarioError("no transport opened")


async def _socketio(target: Target) -> tuple[Client, str]:
    client = SocketIOPolling(target)
    client.probe_upgrade = True
    await client.open()
    return client, "polling"


async def _raw(target: Target, settings: Settings, buffered: bool) -> tuple[Client, str]:
    attempt = RawWebSocket(target)
    try:
        await attempt.open()
    except (InvalidHandshake, OSError):
        pass
    else:
        return attempt, "websocket"
    client: Client = RawLongPoll(target) if buffered else RawSSE(target)
    await client.open()
    return client, "longpoll" if buffered else "sse"


async def _first_message(
    system: str, target: Target, settings: Settings, buffered: bool
) -> tuple[float, str]:
    start = time.perf_counter()
    if system == "realtime":
        client, transport = await _realtime(target, settings)
    elif system == "socketio":
        client, transport = await _socketio(target)
    else:
        client, transport = await _raw(target, settings, buffered)
    try:
        await _echo_first(client, settings.open_timeout)
        elapsed = time.perf_counter() - start
        if client.failure:
            raise ScenarioError(client.failure)
    finally:
        await client.close()
    return elapsed, transport


async def ttfm(system: str, server: ServerProcess, settings: Settings, buffered: bool) -> Result:
    limit = 3 * settings.open_timeout + 10
    # Warm-up, not measured: once through a proxy that only blocks WebSocket.
    warmup = HostileProxy(server.port, block_websocket=True, buffer_sse=False)
    await warmup.start()
    try:
        warm_target = Target("127.0.0.1", warmup.port)
        await asyncio.wait_for(_first_message(system, warm_target, settings, buffered), limit)
    finally:
        await warmup.stop()
    proxy = HostileProxy(server.port, block_websocket=True, buffer_sse=buffered)
    await proxy.start()
    target = Target("127.0.0.1", proxy.port)
    iterations = settings.ttfm_buffered_iterations if buffered else settings.ttfm_iterations
    times: list[float] = []
    transports: set[str] = set()
    try:
        for _ in range(iterations):
            elapsed, transport = await asyncio.wait_for(
                _first_message(system, target, settings, buffered), limit
            )
            times.append(elapsed)
            transports.add(transport)
    finally:
        await proxy.stop()
    return {
        "ttfm_ms": median(times) * 1e3,
        "transport": ",".join(sorted(transports)),
        "iterations": iterations,
        "refused_upgrades": proxy.refused_upgrades,
        "buffered_streams": proxy.buffered_streams,
    }
