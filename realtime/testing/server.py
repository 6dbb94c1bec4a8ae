"""A real server for a test: uvicorn on a free port of 127.0.0.1, in the test's event loop.

::

    async with live_server(app) as url:          # "http://127.0.0.1:<port>"
        async with realtime.client.connect(f"{url}/realtime") as conn:
            ...

Needs uvicorn (the ``demo`` extra). The app's lifespan runs, as in production; on exit the
realtime apps drain first (``realtime.uvicorn.Server``), then uvicorn stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["live_server"]

STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


async def _serve(server: Any, sock: socket.socket) -> None:
    # uvicorn calls sys.exit() when the app's startup fails: keep that inside this task, or
    # it would stop the test's event loop.
    with contextlib.suppress(SystemExit):
        await server.serve(sockets=[sock])


@contextlib.asynccontextmanager
async def live_server(app: Any, **options: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 while the block runs; yield its base URL.

    Args:
        app: The ASGI app (with its realtime mounts and lifespan).
        **options: More ``uvicorn.Config`` options (``log_level`` is ``"warning"`` unless
            given).

    Raises:
        RuntimeError: uvicorn did not start, or did not stop, within 10 s.
    """
    import uvicorn

    from realtime.uvicorn import Server

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, **{"log_level": "warning", "lifespan": "on", **options})
    server = Server(config)
    task = asyncio.create_task(_serve(server, sock), name=f"live-server-{port}")
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STARTUP_TIMEOUT):
                while not server.started and not task.done():
                    await asyncio.sleep(0.01)
        if not server.started:
            raise RuntimeError("uvicorn did not start (see its log)")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT)
        except TimeoutError:
            task.cancel()
            raise RuntimeError(f"uvicorn did not stop within {STOP_TIMEOUT:g} s") from None
        finally:
            sock.close()
