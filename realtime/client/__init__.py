"""The Python client of realtime: for services, command-line tools and tests.

::

    import realtime.client

    async with realtime.client.connect("http://localhost:8000/realtime") as conn:
        await conn.send("hello")
        async for message in conn:
            print(message, conn.transport)

It speaks the same wire protocol as the JavaScript client: it negotiates, falls back from
WebSocket to SSE to long-polling when a transport does not deliver, reconnects with jittered
exponential backoff and resumes the session, so every message arrives once and in order.
"""

from realtime.client.connection import Connection, backoff_delay, connect

__all__ = ["Connection", "backoff_delay", "connect"]
