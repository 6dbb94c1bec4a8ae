"""``python -m examples.legacy [--host 127.0.0.1] [--port 8000]``"""

import argparse

from examples.legacy.app import app
from realtime.uvicorn import serve

parser = argparse.ArgumentParser(prog="python -m examples.legacy")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8000)
args = parser.parse_args()
print(f"legacy example on http://{args.host}:{args.port}  (Ctrl+C to stop)")
serve(app, host=args.host, port=args.port, log_level="warning")
