"""The load generator: each system's wire protocol spoken directly, one module per system.

All systems use the same low-level libraries: the ``websockets`` asyncio client for
WebSocket (no compression, no client pings) and :mod:`bench.loadgen.http`, a minimal
HTTP/1.1 keep-alive client on asyncio streams, for SSE, long-polling and POSTs.
"""
