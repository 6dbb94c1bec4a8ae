"""The command line: ``demo`` runs the chat example, ``check URL`` tests a deployed server.

``check`` tells which transports work between here and the server, and why the others do not
(see :mod:`realtime.check`).

::

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

from realtime.types import TRANSPORT_NAMES

__all__ = ["main"]


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
        raise SystemExit("the demo needs uvicorn: pip install 'starlette-realtime[demo]'") from None
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
    parser = argparse.ArgumentParser(prog="realtime", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="run the chat example")
    run_demo.add_argument("--host", default="127.0.0.1")
    run_demo.add_argument("--port", type=int, default=8000)
    run_check = commands.add_parser(
        "check",
        help="check which transports work with a deployed server",
        description="Negotiate with the realtime mount at URL and open each transport; say "
        "which work and why the others do not. Exit status 0 when at least one works.",
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
