"""Child process: serve one bench app with uvicorn on a listening socket it inherits.

``python -m bench.serve bench.apps.raw_app:app --fd 3``. The harness binds 127.0.0.1:0,
passes the socket down (so the port is known before start and never raced for), pins this
process to one core with ``taskset`` and stops it by its pid.

With ``BENCH_PROFILE=<dir>`` in the environment, the server runs under cProfile and writes
``<dir>/<pid>.prof`` when it stops (read it with ``python -m pstats``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import signal
import socket
import sys

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", help="import string of the ASGI app, module:attribute")
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    args = parser.parse_args()
    sock = socket.socket(fileno=args.fd)
    config = uvicorn.Config(
        args.app,
        log_level="warning",
        access_log=False,
        lifespan="auto",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    profile_dir = os.environ.get("BENCH_PROFILE")
    if not profile_dir:
        server.run(sockets=[sock])
        return
    # uvicorn raises the SIGTERM it caught again once it has shut down: exit, not die.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profile = cProfile.Profile()
    try:
        profile.runcall(server.run, sockets=[sock])
    finally:
        profile.dump_stats(os.path.join(profile_dir, f"{os.getpid()}.prof"))


if __name__ == "__main__":
    main()
