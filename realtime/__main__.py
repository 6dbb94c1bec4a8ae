"""The command line: ``demo`` runs the chat example, ``check URL`` tests a deployed server.

``check`` tells which transports work between here and the server, and why the others do not
(see :mod:`realtime.check`). ``--help`` and ``--version`` say the rest::

    python -m realtime demo [--host 127.0.0.1] [--port 8000]
    python -m realtime check URL [--timeout 3] [--transport NAME]... [-H 'Name: value']...
                                 [--origin ORIGIN | --no-origin]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from realtime import __version__
from realtime.types import TRANSPORT_NAMES

__all__ = ["main"]

DESCRIPTION = """\
One Session API over WebSocket, Server-Sent Events and long-polling for Starlette and
FastAPI apps. This command runs the demo, or checks a deployed server.
"""

EPILOG = """\
examples:
  realtime demo --port 8000                        the chat, on http://127.0.0.1:8000
  realtime check https://example.com/realtime      which transports work, and why not
  realtime check https://example.com/realtime -H 'Authorization: Bearer TOKEN'

Run 'realtime COMMAND --help' for a command's options. Documentation:
https://github.com/realtime-py/realtime#readme
"""

CHECK_DESCRIPTION = """\
Negotiate with the realtime mount at URL and open each transport, as the clients do; say
which work and why the others do not (a proxy that drops WebSocket upgrades or buffers event
streams, a wrong Origin, missing credentials...). Exit status: 0 when at least one transport
works, 1 when none does, 2 for a usage error.
"""

CHECK_EPILOG = """\
examples:
  realtime check http://127.0.0.1:8000/realtime
  realtime check https://example.com/realtime --transport sse --timeout 10
  realtime check https://example.com/realtime -H 'Cookie: session=...'
"""


def _load_chat() -> ModuleType:
    """The chat example: shipped inside the wheel, or found beside a source checkout."""
    package = Path(__file__).parent
    for folder in (package / "_examples" / "chat", package.parent / "examples" / "chat"):
        path = folder / "app.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location("realtime_chat_example", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise SystemExit("the chat example is not installed with this copy of realtime")


def demo(host: str, port: int) -> None:
    try:
        from realtime.uvicorn import serve
    except ImportError:
        raise SystemExit(
            "the demo needs uvicorn (the 'demo' extra): pip install 'uvicorn[standard]'"
        ) from None
    chat = _load_chat()
    print(f"realtime chat on http://{host}:{port}  (Ctrl+C to stop)", file=sys.stderr)
    serve(chat.app, host=host, port=port, log_level="warning")


def check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from realtime.check import endpoints, parse_header, run

    try:
        endpoints(args.url)
        headers = dict(parse_header(header) for header in args.header)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.timeout > 0:
        parser.error("--timeout must be a positive number of seconds")
    return asyncio.run(
        run(
            args.url,
            transports=args.transport or TRANSPORT_NAMES,
            headers=headers,
            origin=None if args.no_origin else args.origin,
            timeout=args.timeout,
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="realtime", description=DESCRIPTION, epilog=EPILOG, formatter_class=raw
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"realtime {__version__} (Python {sys.version.split()[0]})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_demo = commands.add_parser(
        "demo",
        help="run the chat example (needs uvicorn)",
        description="Run the chat example on the in-memory backend; open the URL it prints in "
        "two browsers.",
    )
    run_demo.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    run_demo.add_argument("--port", type=int, default=8000, help="default: 8000")
    run_check = commands.add_parser(
        "check",
        help="check which transports work with a deployed server, and why the others do not",
        description=CHECK_DESCRIPTION,
        epilog=CHECK_EPILOG,
        formatter_class=raw,
    )
    run_check.add_argument("url", metavar="URL", help="the mount, e.g. https://host/realtime")
    run_check.add_argument(
        "--timeout", type=float, default=3.0, help="seconds for each step (default: 3)"
    )
    run_check.add_argument(
        "--transport",
        action="append",
        choices=TRANSPORT_NAMES,
        help="check only this transport (repeatable; default: all)",
    )
    run_check.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header for every request, e.g. a cookie or Authorization (repeatable)",
    )
    origins = run_check.add_mutually_exclusive_group()
    origins.add_argument(
        "--origin", default="", help="the Origin header to send (default: the URL's origin)"
    )
    origins.add_argument("--no-origin", action="store_true", help="send no Origin header")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.host, args.port)
    elif args.command == "check":
        raise SystemExit(check(args, run_check))


if __name__ == "__main__":
    main()
