"""What a session costs in Redis: ``python -m bench.redis_memory``.

Starts a private redis-server on 127.0.0.1, creates 1,000 sessions through RedisBackend, and
prints Redis's used memory per session: negotiated; attached, with its handler claimed and one
room joined; with ten unacknowledged 100-byte direct messages queued; and after ten 100-byte
messages published to the room they are all in (held once, in the room's log).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path

from realtime.backends.base import SessionInfo
from realtime.backends.redis import RedisBackend
from tests.servers import redis_server

SESSIONS = 1000
HEADERS = (
    ("host", "example.com"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120"),
    ("accept", "*/*"),
    ("origin", "https://example.com"),
)


class _Listener:
    def __init__(self) -> None:
        self.id = secrets.token_hex(8)

    def wake(self) -> None:
        pass

    def disconnect(self, code: int, reason: str) -> None:
        pass


async def measure(url: str) -> None:
    backend = RedisBackend(url, prefix="rt")
    await backend.start()

    async def used() -> int:
        return int((await backend.client.info("memory"))["used_memory"])

    base = await used()
    sessions = []
    for _ in range(SESSIONS):
        session_id = secrets.token_urlsafe(16)
        info = SessionInfo(
            id=session_id,  # type: ignore[arg-type]
            token_hash="0" * 64,
            created=0,
            headers=HEADERS,
            query_string="nick=ada",
            user={"id": 42},
        )
        await backend.create(info, 0.0)
        sessions.append(session_id)
    negotiated = await used()
    for session_id in sessions:
        await backend.attach(session_id, _Listener(), "websocket", 0, 1.0)  # type: ignore[arg-type]
        await backend.claim_handler(session_id)  # type: ignore[arg-type]
        await backend.join(session_id, "general")  # type: ignore[arg-type]
    attached = await used()
    for session_id in sessions:
        for _ in range(10):
            await backend.push(session_id, "x" * 100, 100, 0)  # type: ignore[arg-type]
    queued = await used()
    for _ in range(10):
        await backend.publish("general", "y" * 100, 100)
    published = await used()
    await backend.stop()
    print(f"per session, over {SESSIONS} sessions:")
    print(f"  negotiated:                          {(negotiated - base) / SESSIONS:6.0f} B")
    print(f"  attached, handler claimed, one room: {(attached - base) / SESSIONS:6.0f} B")
    print(f"  + 10 unacknowledged 100-byte messages: {(queued - base) / SESSIONS:6.0f} B")
    print(f"  per queued message:                  {(queued - attached) / SESSIONS / 10:6.0f} B")
    print(f"  per room message, per member:        {(published - queued) / SESSIONS / 10:6.1f} B")


def main() -> None:
    with redis_server(Path(tempfile.mkdtemp())) as (url, _process):
        asyncio.run(measure(url))


if __name__ == "__main__":
    main()
