"""Benchmark harness: realtime against raw Starlette and python-socketio, on loopback.

Run ``python -m bench`` (full) or ``python -m bench --quick``; see docs/benchmarks.md.
"""
