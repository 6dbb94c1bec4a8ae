"""How much work each mode does. Every loop of the harness is bounded by these counts and
by the time limits below."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["FULL", "QUICK", "Settings"]


@dataclass(frozen=True)
class Settings:
    mode: str
    rounds: int
    # Echo: concurrent WebSocket clients, each doing round trips one after another.
    echo_clients: int
    echo_seconds: float
    # Fan-out: sessions per transport; broadcasts, of which at most `broadcast_window` are
    # outstanding (not yet delivered to every session) at a time.
    fanout_sessions: dict[str, int]
    broadcasts: int
    # Burst: sessions per transport, and the broadcasts the server publishes in one loop.
    burst_sessions: dict[str, int]
    burst_broadcasts: int
    # Idle memory: sessions per transport, and the pause before reading VmRSS.
    idle_sessions: int
    settle: float
    # Time to first message: iterations per round when WebSocket is blocked (the buffered
    # SSE case costs a whole open timeout for realtime, so it runs once per round).
    ttfm_iterations: int
    ttfm_buffered_iterations: int = 1
    open_timeout: float = 5.0
    """The client's wait for a transport's first frame: realtime.client's default."""
    echo_warmup: int = 20
    echo_max_round_trips: int = 200_000
    broadcast_warmup: int = 5
    broadcast_window: int = 8
    idle_warmup_sessions: int = 20
    connect_concurrency: int = 50
    phase_timeout: float = 60.0
    """Limit for one phase (opening sessions, broadcasting, ...) of a measurement."""
    measurement_timeout: float = 180.0
    """Limit for one measurement, server start to stop."""
    cores: tuple[int, int] = field(default=(0, 1))
    """(server core, load generator core)."""
    scaleout_sessions: dict[str, int] = field(
        default_factory=lambda: {"websocket": 300, "sse": 50, "longpoll": 30}
    )
    """Scale-out: sessions per transport, all in one room, through nginx to the nodes."""
    scaleout_broadcasts: int = 50
    """Scale-out: broadcasts measured (after ``broadcast_warmup``), ``broadcast_window`` at
    most outstanding, as in the fan-out."""
    redis_connections: int = 100
    """Scale-out: each Redis node's ``RedisBackend(max_connections=...)``."""

    def with_rounds(self, rounds: int | None) -> Settings:
        return self if rounds is None else replace(self, rounds=rounds)


FULL = Settings(
    mode="full",
    rounds=5,
    echo_clients=10,
    echo_seconds=3.0,
    fanout_sessions={"websocket": 500, "sse": 500, "longpoll": 200},
    broadcasts=200,
    burst_sessions={"websocket": 500, "sse": 500},
    burst_broadcasts=200,
    idle_sessions=1000,
    settle=3.0,
    ttfm_iterations=5,
    scaleout_sessions={"websocket": 300, "sse": 50, "longpoll": 30},
    scaleout_broadcasts=50,
)

QUICK = Settings(
    mode="quick",
    rounds=1,
    echo_clients=10,
    echo_seconds=1.0,
    fanout_sessions={"websocket": 100, "sse": 100, "longpoll": 50},
    broadcasts=50,
    burst_sessions={"websocket": 100, "sse": 100},
    burst_broadcasts=50,
    idle_sessions=200,
    settle=1.0,
    ttfm_iterations=3,
    scaleout_sessions={"websocket": 60, "sse": 15, "longpoll": 10},
    scaleout_broadcasts=30,
)
