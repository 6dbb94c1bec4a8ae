"""``python -m bench``: run every scenario against every system, interleaved, and report.

    python -m bench --quick          # 1 round, fewer sessions: a smoke run (< 2 minutes)
    python -m bench                  # 5 rounds, the documented figures (< 15 minutes)
    python -m bench --only scaleout  # the scale-out scenario alone

The load generator (this process) pins itself to core 1 (as ``taskset -c 1`` would); each
server runs under ``taskset -c 0``, and so do the scale-out's nodes, redis-server and nginx.
Results go to ``bench/results/latest.json`` (a full run of everything), ``partial.json`` (a
full-size run of some scenarios or systems) or ``quick.json`` (quick), with a copy per run
in ``bench/results/raw/``; a full run of everything also rewrites ``docs/benchmarks.md`` and
the charts in ``docs/img/``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import uvloop

from bench.report import summarize, text_table, write_docs
from bench.runner import Record, run_rounds
from bench.scenarios import SCALEOUT, SCENARIOS
from bench.servers import ROOT
from bench.settings import FULL, QUICK, Settings
from bench.systems import SYSTEMS

RESULTS = ROOT / "bench" / "results"
PACKAGES = (
    "starlette-realtime",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "websockets",
    "sse-starlette",
    "python-socketio",
    "python-engineio",
    "redis",
)
REDIS_MEMORY_TIMEOUT = 120.0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, fewer sessions")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    keys = [s.key for s in SCENARIOS] + [SCALEOUT.key]
    parser.add_argument("--only", help=f"comma-separated scenarios among {','.join(keys)}")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated systems")
    parser.add_argument("--out", type=Path, help="where to write the results JSON")
    parser.add_argument(
        "--open-timeout",
        type=float,
        help="realtime client's wait for a transport's first frame, in seconds (default 10)",
    )
    parser.add_argument(
        "--redis-connections",
        type=int,
        help="scale-out: each Redis node's RedisBackend(max_connections=N) (default 100)",
    )
    parser.add_argument(
        "--scaleout-sessions",
        type=_sessions,
        help="scale-out: sessions per transport, e.g. websocket=380 (default: the mode's mix)",
    )
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--docs", dest="docs", action="store_true", default=None)
    docs.add_argument("--no-docs", dest="docs", action="store_false")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else set(keys)
    if unknown := wanted - set(keys):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.scenarios = [s for s in SCENARIOS if s.key in wanted]
    args.clusters = [SCALEOUT] if SCALEOUT.key in wanted else []
    args.system_list = [s for s in args.systems.split(",") if s]
    if unknown := set(args.system_list) - set(SYSTEMS):
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    if args.scenarios and "raw" not in args.system_list:
        parser.error("raw is the reference of every ratio: keep it in --systems")
    return args


def _git(*command: str) -> str:
    try:
        return subprocess.run(
            ["git", *command], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _machine() -> dict[str, Any]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    os_name = "?"
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return versions


def _meta(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "mode": settings.mode,
        "settings": dataclasses.asdict(settings),
        "scenarios": [s.key for s in [*args.scenarios, *args.clusters]],
        "systems": args.system_list,
        "deployments": [d.key for c in args.clusters for d in c.deployments],
        "machine": _machine(),
        "versions": _versions(),
        "git": {
            "commit": _git("rev-parse", "--short", "HEAD"),
            "dirty": bool(_git("status", "--porcelain")),
        },
    }


def _raise_file_limit() -> None:
    """Thousands of sessions need thousands of descriptors, here and in the servers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _redis_memory() -> dict[str, str]:
    """``python -m bench.redis_memory``'s answer (Redis memory per session by state)."""
    command = [sys.executable, "-m", "bench.redis_memory"]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=REDIS_MEMORY_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip() or f"exit status {done.returncode}")[-500:]}
    return {"command": "python -m bench.redis_memory", "output": done.stdout.strip()}


def _write(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    tmp.replace(path)


def _sessions(value: str) -> dict[str, int]:
    """``websocket=380,sse=10``: sessions per transport, the others none."""
    counts = {"websocket": 0, "sse": 0, "longpoll": 0}
    for part in value.split(","):
        name, _, count = part.partition("=")
        if name not in counts or not count.isdigit():
            raise argparse.ArgumentTypeError(f"expected transport=count, got {part!r}")
        counts[name] = int(count)
    return counts


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = (QUICK if args.quick else FULL).with_rounds(args.rounds)
    if args.open_timeout is not None:
        settings = dataclasses.replace(settings, open_timeout=args.open_timeout)
    if args.redis_connections is not None:
        settings = dataclasses.replace(settings, redis_connections=args.redis_connections)
    if args.scaleout_sessions is not None:
        settings = dataclasses.replace(settings, scaleout_sessions=args.scaleout_sessions)
    _raise_file_limit()
    server_core, loadgen_core = settings.cores
    if len(os.sched_getaffinity(0) | {server_core, loadgen_core}) < 2 or (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 cores; server and load generator share one", file=sys.stderr)
    else:
        os.sched_setaffinity(0, {loadgen_core})
    everything = (
        len(args.scenarios) == len(SCENARIOS)
        and len(args.clusters) == 1
        and len(args.system_list) == len(SYSTEMS)
    )
    default = "quick.json" if args.quick else "latest.json" if everything else "partial.json"
    out = args.out or RESULTS / default
    document: dict[str, Any] = {"meta": _meta(settings, args), "records": []}
    started = time.perf_counter()

    def on_record(record: Record) -> None:
        document["records"].append(record)
        _write(out, document)
        figures = record.get("metrics") or {}
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in list(figures.items())[:4]
        )
        detail = shown or record.get("error") or record.get("reason", "")
        print(
            f"[{time.perf_counter() - started:6.1f}s] round {record['round'] + 1}/{settings.rounds}"
            f" {record['scenario']:<18} {record['system']:<9} {record['status']:<5} {detail}",
            file=sys.stderr,
            flush=True,
        )

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_rounds(settings, args.scenarios, args.system_list, on_record, args.clusters))
    if args.clusters:
        document["redis_memory"] = _redis_memory()
    document["meta"]["duration_s"] = round(time.perf_counter() - started, 1)
    document["summary"] = summarize(document["records"])
    _write(out, document)
    stamp = document["meta"]["date"].replace(":", "").replace("+0000", "Z")
    _write(RESULTS / "raw" / f"{stamp}-{settings.mode}.json", document)
    print(text_table(document))
    docs = args.docs if args.docs is not None else (everything and not args.quick)
    if docs:
        for path in write_docs(document, out):
            print(f"wrote {path}")
    print(f"results in {out} ({document['meta']['duration_s']} s)")
    errors = sum(1 for r in document["records"] if r["status"] == "error")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
