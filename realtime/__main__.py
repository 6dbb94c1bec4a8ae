"""Command line: ``python -m realtime demo`` runs the chat example.

::

    python -m realtime demo [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="realtime", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="run the chat example")
    run_demo.add_argument("--host", default="127.0.0.1")
    run_demo.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.host, args.port)


if __name__ == "__main__":
    main()
