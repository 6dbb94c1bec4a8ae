"""The Redis backend: sessions and rooms in Redis, shared by every process.

::

    from realtime.backends.redis import RedisBackend
    app = RealtimeApp(handler, backend=RedisBackend("redis://localhost:6379/0"))

Any process serves any request of any session: no sticky sessions. Each session is a hash, a
log of its own messages, an inbox and its rooms (:mod:`~realtime.backends.redis.scripts` has
the layout); every change is one atomic Lua script. A process is told what concerns it on its
own pub/sub channel (:mod:`~realtime.backends.redis.notifier`).

A room's publish is appended once to the room's log and sent once to each process holding
members' connections, which fans it out from memory
(:mod:`~realtime.backends.redis.roomlog`): Redis work per publish does not grow with the room.
The process holding a connection numbers its session's messages itself and writes a
checkpoint of them to Redis now and then (:mod:`~realtime.backends.redis.outbox`,
:mod:`~realtime.backends.redis.outgoing`); any other process numbers them alike from the
checkpoint and the logs, so a session resumes anywhere with nothing lost or doubled.

A process that dies is noticed by the others within ``node_ttl`` seconds (plus the reaper's
period): its connections are detached, so their clients resume elsewhere, and its handlers are
restarted by another process (``session.restarted`` is then True).

Needs redis-py (``pip install 'redis>=5'``, the ``redis`` extra) and one Redis server, primary or
Sentinel-managed; not Redis Cluster. Process clocks must agree to within a fraction of
``session_ttl`` (NTP): expiry compares their timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from typing import Any

try:
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.commands.core import AsyncScript
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "RedisBackend needs redis-py (the 'redis' extra): pip install 'redis>=5'"
    ) from exc

from realtime.backends.base import (
    MAX_TICKETS,
    MAX_WAITING_TOKENS,
    TOKEN_GRACE,
    Admission,
    HandlerClaim,
    Listener,
    Pending,
    SessionInfo,
    SessionSnapshot,
)
from realtime.backends.redis import credentials, incoming, state
from realtime.backends.redis.cancellation import raise_if_cancelled
from realtime.backends.redis.codec import close_of, encode, text, translating_errors
from realtime.backends.redis.heartbeat import Heartbeat, sync_client
from realtime.backends.redis.notifier import Notifier
from realtime.backends.redis.outgoing import Outgoing
from realtime.backends.redis.records import (
    SNAPSHOT_FIELDS,
    create_arguments,
    info_of,
    snapshot_of,
)
from realtime.backends.redis.roomlog import RETENTION
from realtime.backends.redis.scripts import SCRIPTS
from realtime.backends.redis.upkeep import REFRESH_PERIOD, refresh_keys, warn_if_redis_may_evict
from realtime.exceptions import (
    SessionClosed,
    UnknownSession,
)
from realtime.protocol.frames import CloseCode
from realtime.protocol.session import Attached
from realtime.types import SessionId, TransportName

__all__ = ["RedisBackend"]


HINT_LIFETIME = 1.0
"""Seconds a request's word that the handler runs elsewhere spares the claim a round trip."""


class RedisBackend:
    """Sessions and rooms in Redis. See the module docstring.

    Args:
        url: Where Redis is, e.g. ``"redis://localhost:6379/0"``.
        prefix: Prefix of every key and channel, to share a Redis between apps.
        client: A ``redis.asyncio.Redis`` to use instead of connecting to ``url`` (the
            pool settings below then do not apply).
        max_connections: Connections to Redis this process opens at most. Requests beyond
            it wait for a free connection (at most ``pool_timeout`` seconds, then the
            session sees the backend as unavailable), so a burst queues instead of failing.
        pool_timeout: Seconds a request waits for a free connection. Generous: the wait
            counts time the event loop spends on other work, so a busy process waits longer
            for the same queue; past it the connection ends with 4008 and its client resumes.
        node_ttl: Seconds after which a silent process counts as dead. Its heartbeat beats
            from a thread on a connection of its own (see
            :mod:`~realtime.backends.redis.heartbeat`): a busy process does not fall silent.
        stall_timeout: Seconds after which a process whose event loop has not run at all
            stops its heartbeat, so that the others take its sessions over.
        key_ttl: Seconds after which the keys of a session that no live process touches are
            deleted by Redis itself: a safety net, normally the reaper deletes them.
        room_log_length: Messages each room's log keeps (see
            :mod:`~realtime.backends.redis.roomlog`). A session that resumes on another
            process (or after its process died) is numbered from its last checkpoint and its
            rooms' logs: if a log dropped messages it had not acknowledged at its checkpoint,
            it ends with 4004. Keep it well above the sessions' ``max_queue``, and the same
            on every process.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "rt",
        client: Redis | None = None,
        max_connections: int = 100,
        pool_timeout: float = 30.0,
        node_ttl: float = 3.0,
        key_ttl: float = 3600.0,
        stall_timeout: float = 30.0,
        room_log_length: int = 10_000,
    ) -> None:
        if min(node_ttl, key_ttl, pool_timeout, stall_timeout) <= 0:
            raise ValueError("node_ttl, key_ttl, pool_timeout and stall_timeout must be positive")
        if room_log_length < 1:
            raise ValueError("room_log_length must be positive")
        self.room_log_length = room_log_length
        if max_connections < 2:
            raise ValueError("max_connections must be at least 2 (one is for notifications)")
        if client is not None and client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisBackend needs a client with decode_responses=False")
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.url = url
        self.prefix = prefix
        self.node = secrets.token_hex(6)
        """This process's id among those sharing the Redis."""
        self.node_ttl = node_ttl
        self.key_ttl = key_ttl
        self.stall_timeout = stall_timeout
        self._own_client = client is None
        self._client = client
        self._scripts: dict[str, AsyncScript] = {}
        self._notifier: Notifier | None = None
        self._heartbeat: Heartbeat | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._outgoing: Outgoing | None = None
        self._handlers: set[str] = set()
        self._orphans: list[SessionId] = []
        self._on_transport: Callable[[SessionId, TransportName], None] | None = None

    # -- Lifecycle ------------------------------------------------------------------------

    @property
    def client(self) -> Redis:
        if self._client is None:
            raise RuntimeError("RedisBackend is not started")
        return self._client

    @property
    def outgoing(self) -> Outgoing:
        if self._outgoing is None:
            raise RuntimeError("RedisBackend is not started")
        return self._outgoing

    @property
    def notifier(self) -> Notifier:
        if self._notifier is None:
            raise RuntimeError("RedisBackend is not started")
        return self._notifier

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    @translating_errors
    async def start(self) -> None:
        if self._client is None:
            # redis-py's default pool raises once its connections are all busy; this one waits.
            pool = BlockingConnectionPool.from_url(
                self.url, max_connections=self.max_connections, timeout=self.pool_timeout
            )
            self._client = Redis.from_pool(pool)
        retention = str(self.room_log_length)
        self._scripts = {
            name: self.client.register_script(source.replace(RETENTION, retention))
            for name, source in SCRIPTS.items()
        }
        options = None if self._own_client else self.client.connection_pool.connection_kwargs
        heartbeat = Heartbeat(
            sync_client(self.url, options, self.node_ttl / 3),
            self.prefix,
            self.node,
            self.node_ttl,
            self.stall_timeout,
            self._reaped,
        )
        try:
            await heartbeat.start()  # fails here if Redis cannot be reached
        except BaseException:
            await heartbeat.stop()
            await self.stop()
            raise
        self._heartbeat = heartbeat
        self._notifier = Notifier(self.client, self._key("ch", self.node))
        self._notifier.on_transport = self._on_transport
        self._outgoing = Outgoing(
            self._run, self._notifier, self.node, self.key_ttl, self.room_log_length, time.time
        )
        self._outgoing.on_transport = self._on_transport
        await self._notifier.start()
        self._outgoing.start()
        self._refresher = asyncio.create_task(self._refresh_forever(), name="realtime-redis-ttl")
        await warn_if_redis_may_evict(self.client)

    async def vanish(self) -> None:
        """Stop as a killed process would: no more heartbeats nor notifications, and nothing
        cleaned up, so other nodes find this one's sessions orphaned once ``node_ttl`` passes.
        For failure drills and tests; :meth:`stop` is the clean way out."""
        await self._stop_background()
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    async def stop(self) -> None:
        await self._stop_background()
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.delete(self._key("node", self.node))
            if self._own_client:
                await self._client.aclose()
                self._client = None

    async def _stop_background(self) -> None:
        if self._heartbeat is not None:
            await self._heartbeat.stop()
            self._heartbeat = None
        if self._outgoing is not None:
            await self._outgoing.stop()
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._notifier is not None:
            await self._notifier.stop()

    def _reaped(self) -> None:
        """Another process took this one for dead and detached its connections in Redis:
        end them, so that their clients attach again and are found again."""
        if self._notifier is None:
            return
        for listener in self.outgoing.forget_all():
            listener.disconnect(CloseCode.BACKEND_UNAVAILABLE, "resume: this server was away")

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(min(REFRESH_PERIOD, self.key_ttl / 4))
            sessions = set(self.notifier.outboxes) | self._handlers
            try:
                gone = await refresh_keys(
                    self._scripts["refresh"], self.prefix, self.node, sessions, self.key_ttl
                )
            except (RedisError, OSError):
                gone = []  # Redis is away: the notifier and the requests say so
            for session_id in gone:
                self.outgoing.gone(SessionId(session_id))
            raise_if_cancelled()

    async def _run(self, name: str, *args: str | bytes | int) -> Any:
        return await self._scripts[name](keys=[], args=[self.prefix, *args])

    async def _closed_error(self, session_id: SessionId) -> SessionClosed:
        code, reason = await self.client.hmget(self._key("s", session_id), "cc", "cr")
        return SessionClosed.create(*close_of(code, reason))

    # -- Sessions -------------------------------------------------------------------------

    @translating_errors
    async def create(
        self,
        info: SessionInfo,
        now: float,
        max_sessions: int | None = None,
        max_per_client: int | None = None,
    ) -> Admission:
        arguments = create_arguments(info, now, self.key_ttl, max_sessions, max_per_client)
        result = text(await self._run("create", *arguments))
        if result == "exists":
            raise ValueError(f"session {info.id!r} exists already")
        assert result in ("created", "server full", "client full"), result
        return result  # type: ignore[return-value]

    @translating_errors
    async def count(self, client: str | None = None) -> int:
        name = f"{self.prefix}:all" if client is None else self._key("client", client)
        return int(await self.client.zcard(name))

    @translating_errors
    async def info(self, session_id: SessionId) -> SessionInfo | None:
        return info_of(await self.client.hget(self._key("s", session_id), "info"))

    @translating_errors
    async def snapshot(self, session_id: SessionId) -> SessionSnapshot | None:
        return snapshot_of(await self.client.hmget(self._key("s", session_id), *SNAPSHOT_FIELDS))

    @translating_errors
    async def attach(
        self,
        session_id: SessionId,
        listener: Listener,
        transport: TransportName,
        last: int,
        now: float,
    ) -> Attached:
        return await self.outgoing.attach(session_id, listener, transport, last, now)

    @translating_errors
    async def detach(self, session_id: SessionId, listener: Listener, now: float) -> None:
        await self.outgoing.detach(session_id, listener, now)

    @translating_errors
    async def touch(self, session_id: SessionId, now: float) -> None:
        if int(await self._run("touch", session_id, repr(now), self.node)):
            self.outgoing.handler_elsewhere(session_id)

    @translating_errors
    async def claim_handler(self, session_id: SessionId) -> HandlerClaim | None:
        seen = self.outgoing.handlers_elsewhere.pop(session_id, None)
        if seen is not None and asyncio.get_running_loop().time() - seen < HINT_LIFETIME:
            return None  # it ran in another process a moment ago: the request's own answer
        claim = await self._run("claim", session_id, self.node)
        if not claim:
            return None
        self._handlers.add(session_id)
        return "start" if claim == b"start" else "restart"

    @translating_errors
    async def release_handler(self, session_id: SessionId, finished: bool) -> None:
        self._handlers.discard(session_id)
        await self._run("release", session_id, self.node, "1" if finished else "0")

    def watch_transports(self, callback: Callable[[SessionId, TransportName], None]) -> None:
        self._on_transport = callback
        if self._notifier is not None:
            self._notifier.on_transport = callback
        if self._outgoing is not None:
            self._outgoing.on_transport = callback

    async def orphans(self) -> list[SessionId]:
        orphans, self._orphans = self._orphans, []
        for session_id in orphans:  # their process died: no hint from before holds
            self.outgoing.handlers_elsewhere.pop(session_id, None)
        return orphans

    @translating_errors
    async def close(self, session_id: SessionId, code: int, reason: str) -> bool:
        return bool(await self._run("close", session_id, int(code), reason, ""))  # no IntEnum

    @translating_errors
    async def expire(self, now: float, ttl: float) -> list[SessionId]:
        await self._reap_dead_nodes(now)
        expired = await self._run("expire", repr(now), repr(ttl))
        return [SessionId(text(session_id)) for session_id in expired]

    async def _reap_dead_nodes(self, now: float) -> None:
        nodes = [text(node) for node in await self.client.smembers(f"{self.prefix}:nodes")]
        others = [node for node in nodes if node != self.node]
        if not others:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for node in others:
                pipe.exists(self._key("node", node))
            alive = await pipe.execute()
        for node, exists in zip(others, alive, strict=True):
            if not exists:
                orphans = await self._run("reap_node", node, repr(now))
                self._orphans.extend(SessionId(text(session_id)) for session_id in orphans)

    # -- Server to client -----------------------------------------------------------------

    @translating_errors
    async def push(
        self, session_id: SessionId, data: str | bytes, size: int, timeout: float | None
    ) -> None:
        await self.outgoing.push(session_id, data, size, timeout, self._closed_error)

    @translating_errors
    async def pending(
        self, session_id: SessionId, after: int, max_count: int | None, max_bytes: int | None
    ) -> Pending:
        return await self.outgoing.pending(session_id, after, max_count, max_bytes)

    @translating_errors
    async def ack(self, session_id: SessionId, seq: int) -> None:
        await self.outgoing.ack(session_id, seq)

    # -- Client to server -----------------------------------------------------------------

    @translating_errors
    async def deliver(
        self, session_id: SessionId, seq: int, data: str | bytes, size: int, now: float
    ) -> int:
        try:
            return await incoming.deliver(self._run, session_id, seq, data, size, now)
        except UnknownSession:
            raise self.outgoing.gone(session_id) from None

    @translating_errors
    async def receive(self, session_id: SessionId) -> str | bytes:
        return await incoming.receive(self._run, self.notifier, session_id)

    # -- Rooms ----------------------------------------------------------------------------

    @translating_errors
    async def join(self, session_id: SessionId, room: str) -> None:
        result = await self._run("join", session_id, room)
        if result[0] == b"unknown":
            raise UnknownSession()
        if result[0] == b"closed":
            raise SessionClosed.create(*close_of(result[1], result[2]))

    @translating_errors
    async def leave(self, session_id: SessionId, room: str) -> None:
        await self._run("leave", session_id, room)

    @translating_errors
    async def rooms(self, session_id: SessionId) -> set[str]:
        return {text(room) for room in await self.client.smembers(self._key("r", session_id))}

    @translating_errors
    async def members(self, room: str) -> set[SessionId]:
        members = await self.client.smembers(self._key("room", room))
        return {SessionId(text(member)) for member in members}

    @translating_errors
    async def publish(
        self, room: str, data: str | bytes, size: int, exclude: SessionId | None = None
    ) -> int:
        kind, payload = encode(data)
        return int(
            await self._run(
                "publish",
                room,
                kind,
                payload,
                size,
                exclude or "",
                self.room_log_length,
                round(self.key_ttl * 1000),
            )
        )

    @translating_errors
    async def offer(self, session_id: SessionId, data: str | bytes, size: int) -> bool:
        kind, payload = encode(data)
        return bool(await self._run("offer", session_id, kind, payload, size))

    # -- Presence and handler state (realtime/backends/redis/state.py) -------------------

    @translating_errors
    async def presence(self, room: str) -> dict[SessionId, object]:
        return await state.presence(self.client, self.prefix, room)

    @translating_errors
    async def add_ticket(
        self, session_id: SessionId, ticket_hash: str, now: float, lifetime: float
    ) -> bool:
        return await credentials.add_ticket(
            self.client,
            self._key("s", session_id),
            self._key("t", session_id),
            ticket_hash,
            now + lifetime,
            lifetime,
            MAX_TICKETS,
        )

    @translating_errors
    async def use_ticket(self, session_id: SessionId, ticket_hash: str, now: float) -> bool:
        key = self._key("t", session_id)
        return await credentials.use_ticket(self.client, key, ticket_hash, now)

    @translating_errors
    async def rotate_token(self, session_id: SessionId, token_hash: str) -> bool:
        key = self._key("s", session_id)
        return await credentials.rotate_token(self.client, key, token_hash, MAX_WAITING_TOKENS)

    @translating_errors
    async def check_token(self, session_id: SessionId, token_hash: str, now: float) -> bool:
        key = self._key("s", session_id)
        return await credentials.check_token(self.client, key, token_hash, now, TOKEN_GRACE)

    @translating_errors
    async def save_state(self, session_id: SessionId, saved: str) -> bool:
        return await state.save_state(self.client, self._key("s", session_id), saved)

    @translating_errors
    async def load_state(self, session_id: SessionId) -> str | None:
        return await state.load_state(self.client, self._key("s", session_id))
