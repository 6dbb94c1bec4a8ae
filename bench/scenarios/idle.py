"""Idle memory: open N sessions on one transport, let the server settle, and divide the
growth of its resident memory (VmRSS) by N.

The baseline is taken with a few warm-up sessions already open (so that code paths, caches
and pools are warm), then N more are opened and left idle: WebSockets and event streams
open, long-polls pending.
"""

from __future__ import annotations

import asyncio

from bench.scenarios.common import Result, check_failures, sessions, target_of, wait_count
from bench.servers import ServerProcess
from bench.settings import Settings

__all__ = ["idle"]


async def idle(system: str, server: ServerProcess, settings: Settings, transport: str) -> Result:
    target = target_of(server)
    warm, count = settings.idle_warmup_sessions, settings.idle_sessions
    limit = settings.phase_timeout
    async with sessions(system, transport, target, warm, settings):
        await wait_count(target, warm, limit)
        await asyncio.sleep(settings.settle)
        before = server.rss_kib()
        async with sessions(system, transport, target, count, settings):
            await wait_count(target, warm + count, limit)
            await asyncio.sleep(settings.settle)
            after = server.rss_kib()
            await wait_count(target, warm + count, limit)  # all still there
            check_failures(target)
    return {
        "kib_per_session": (after - before) / count,
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
        "sessions": count,
    }
