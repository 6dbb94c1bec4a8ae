"""Child process: serve one bench app with uvicorn on a listening socket it inherits.

``python -m bench.serve bench.apps.raw_app:app --fd 3``. The harness binds 127.0.0.1:0,
passes the socket down (so the port is known before start and never raced for), pins this
process to one core with ``taskset`` and stops it by its pid.
"""

from __future__ import annotations

import argparse
import socket

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
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
