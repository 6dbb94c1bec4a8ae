"""Results: medians over rounds, the markdown tables (with ratios to raw, and for the
scale-out to realtime on one node in memory), the charts, the doc.

``python -m bench.report [results.json]`` rewrites docs/benchmarks.md, docs/img/benchmarks.png
and (when the results have the scale-out) docs/img/scaleout.png from a results file (default:
bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.cluster import DEPLOYMENTS
from bench.scenarios import SCALEOUT, SCENARIOS, Metric, Scenario
from bench.scenarios.scaleout import CALLS
from bench.servers import ROOT
from bench.settings import FULL
from bench.systems import LABELS, SYSTEMS

__all__ = ["markdown_table", "scaleout_table", "summarize", "text_table", "write_docs"]

DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "img" / "benchmarks.png"
SCALEOUT_CHART = ROOT / "docs" / "img" / "scaleout.png"
REFERENCE = "raw"
DEPLOYMENT_LABELS = {d.key: d.label for d in DEPLOYMENTS}
SCENARIO_BY_KEY = {s.key: s for s in SCENARIOS}
NOISY = 0.1
"""Cores used by other processes during a measurement above which its cell is marked."""
SLOW_RATIO = 2.0
"""Where realtime costs this many times raw or more, or more than python-socketio at all,
the doc lists it under "Findings"."""

Summary = dict[str, dict[str, dict[str, Any]]]


def _reference(scenario: str) -> str:
    """What the ratios of ``scenario`` are to: raw, or for the scale-out memory on 1 node."""
    return SCALEOUT.reference if scenario == SCALEOUT.key else REFERENCE


def _label(scenario: str, system: str) -> str:
    if scenario == SCALEOUT.key:
        return f"realtime, {DEPLOYMENT_LABELS.get(system, system)}"
    return LABELS.get(system, system)


def _scenario_title(scenario: str) -> str:
    if scenario == SCALEOUT.key:
        return SCALEOUT.title
    return SCENARIO_BY_KEY[scenario].title if scenario in SCENARIO_BY_KEY else scenario


def summarize(records: list[dict[str, Any]]) -> Summary:
    """Per scenario and system: the median of every figure over the rounds that worked, and
    the status: "error" if any round failed (the table then shows no number)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        grouped[record["scenario"], record["system"]].append(record)
    summary: Summary = defaultdict(dict)
    for (scenario, system), rounds in grouped.items():
        entry: dict[str, Any] = {"rounds": len(rounds)}
        if any(r["status"] == "n/a" for r in rounds):
            entry.update(status="n/a", reason=rounds[0]["reason"])
        else:
            ok = [r["metrics"] for r in rounds if r["status"] == "ok"]
            errors = [r["error"] for r in rounds if r["status"] == "error"]
            entry.update(status="error" if errors else "ok", rounds_ok=len(ok))
            if errors:
                entry["errors"] = errors
            entry["metrics"] = _medians(ok)
            entry["spread"] = _spreads(ok)
        logs = [r["server_log"] for r in rounds if r.get("server_log")]
        if logs:
            entry["server_log"] = logs[0]
        summary[scenario][system] = entry
    for (scenario, system), rounds in grouped.items():
        name = _reference(scenario)
        reference = {r["round"]: r for r in grouped.get((scenario, name), [])}
        entry = summary[scenario][system]
        if system != name and entry["status"] == "ok":
            entry["ratios"] = _paired_ratios(rounds, reference)
    return dict(summary)


def _paired_ratios(
    rounds: list[dict[str, Any]], reference: dict[int, dict[str, Any]]
) -> dict[str, float]:
    """Per figure, the median over rounds of this system's value ÷ the reference's (raw's,
    or memory on 1 node's) in the same round: paired, so that what drifts between rounds (the
    machine) cancels out."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for record in rounds:
        floor = reference.get(record["round"])
        if floor is None or floor["status"] != "ok" or record["status"] != "ok":
            continue
        for key, value in record["metrics"].items():
            base = floor["metrics"].get(key)
            if isinstance(value, (int, float)) and isinstance(base, (int, float)) and base:
                ratios[key].append(value / base)
    return {key: statistics.median(values) for key, values in ratios.items()}


def _medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    values: dict[str, list[Any]] = defaultdict(list)
    for figures in rounds:
        for key, value in figures.items():
            values[key].append(value)
    medians: dict[str, Any] = {}
    for key, items in values.items():
        if all(isinstance(v, (int, float)) for v in items):
            medians[key] = statistics.median(items)
        else:
            medians[key] = ",".join(sorted({str(v) for v in items}))
    return medians


def _spreads(rounds: list[dict[str, Any]]) -> dict[str, list[float]]:
    """[min, max] of every numeric figure over the rounds."""
    keys = {k for figures in rounds for k, v in figures.items() if isinstance(v, (int, float))}
    return {
        k: [min(f[k] for f in rounds if k in f), max(f[k] for f in rounds if k in f)]
        for k in sorted(keys)
    }


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _value(summary: Summary, scenario: str, system: str, metric: Metric) -> float | None:
    entry = summary.get(scenario, {}).get(system)
    if entry is None or entry["status"] != "ok":
        return None
    value = entry["metrics"].get(metric.key)
    return float(value) if isinstance(value, (int, float)) else None


def _cell(summary: Summary, scenario: str, system: str, metric: Metric, notes: list[str]) -> str:
    entry = summary.get(scenario, {}).get(system)
    if entry is None:
        return "–"
    if entry["status"] == "n/a":
        return "n/a"
    if entry["status"] == "error":
        note = f"{_label(scenario, system)}, {_scenario_title(scenario)}: {entry['errors'][0]}"
        if note not in notes:
            notes.append(note)
        return f"**error** [{notes.index(note) + 1}]"
    value = _value(summary, scenario, system, metric)
    if value is None:
        return "–"
    text = _number(value)
    ratio = entry.get("ratios", {}).get(metric.key)
    if ratio is not None:
        text += f" ({ratio:.2f}×)"
    if entry["metrics"].get("others_busy", 0) > NOISY:
        text += " †"
    return text


def _title(scenario: Scenario, settings: dict[str, Any]) -> str:
    if scenario.key.startswith("fanout_"):
        sessions = settings["fanout_sessions"][scenario.transport or ""]
        return f"{scenario.title}: {sessions} sessions × {settings['broadcasts']} broadcasts"
    if scenario.key.startswith("burst_"):
        sessions = settings["burst_sessions"][scenario.transport or ""]
        return f"{scenario.title}: {sessions} sessions × {settings['burst_broadcasts']} at once"
    if scenario.key.startswith("idle_"):
        return f"{scenario.title}: {settings['idle_sessions']} sessions"
    if scenario.key == "echo_ws":
        return f"{scenario.title}: {settings['echo_clients']} clients"
    return scenario.title


def markdown_table(document: dict[str, Any]) -> tuple[str, list[str]]:
    """The results table and its numbered error notes."""
    summary: Summary = document["summary"]
    settings = document["meta"]["settings"]
    systems = [s for s in SYSTEMS if s in document["meta"]["systems"]]
    header = "| Scenario | Metric | " + " | ".join(LABELS[s] for s in systems) + " |"
    lines = [header, "|---|---|" + "---:|" * len(systems)]
    notes: list[str] = []
    for scenario in SCENARIOS:
        if scenario.key not in summary:
            continue
        for i, metric in enumerate(scenario.metrics):
            arrow = "↑" if metric.higher_is_better else "↓"
            title = _title(scenario, settings) if i == 0 else ""
            cells = [_cell(summary, scenario.key, s, metric, notes) for s in systems]
            lines.append(f"| {title} | {metric.label} {arrow} | " + " | ".join(cells) + " |")
    return "\n".join(lines), notes


def text_table(document: dict[str, Any]) -> str:
    parts = []
    if _has_systems(document):
        table, notes = markdown_table(document)
        parts += [table, *(f"[{i}] {note}" for i, note in enumerate(notes, 1))]
    if SCALEOUT.key in document["summary"]:
        table, notes = scaleout_table(document)
        parts += [table, *(f"[{i}] {note}" for i, note in enumerate(notes, 1))]
    return "\n".join(parts)


def _has_systems(document: dict[str, Any]) -> bool:
    """Whether the results have any of the scenarios that compare systems."""
    return any(scenario.key in document["summary"] for scenario in SCENARIOS)


def _deployments(document: dict[str, Any]) -> list[str]:
    present = document["summary"].get(SCALEOUT.key, {})
    return [d.key for d in DEPLOYMENTS if d.key in present]


def _scaleout_load(settings: dict[str, Any]) -> str:
    """``"300 WebSocket + 50 SSE + 30 long-polling sessions × 100 broadcasts"``."""
    counts = settings.get("scaleout_sessions", {})
    names = {"websocket": "WebSocket", "sse": "SSE", "longpoll": "long-polling"}
    sessions = " + ".join(f"{n} {names.get(t, t)}" for t, n in counts.items() if n)
    return f"{sessions} sessions × {settings.get('scaleout_broadcasts')} broadcasts"


def _scaleout_title(settings: dict[str, Any]) -> str:
    return f"{SCALEOUT.title}: {_scaleout_load(settings)}"


def scaleout_table(document: dict[str, Any]) -> tuple[str, list[str]]:
    """The scale-out table (deployments as columns, ratios to memory on 1 node) and its
    numbered error notes."""
    summary: Summary = document["summary"]
    deployments = _deployments(document)
    header = "| Metric | " + " | ".join(DEPLOYMENT_LABELS[d] for d in deployments) + " |"
    lines = [header, "|---|" + "---:|" * len(deployments)]
    notes: list[str] = []
    for metric in SCALEOUT.metrics:
        arrow = "↑" if metric.higher_is_better else "↓"
        cells = []
        for deployment in deployments:
            entry = summary[SCALEOUT.key][deployment]
            if entry["status"] == "ok" and metric.key not in entry["metrics"]:
                cells.append("n/a")
            else:
                cells.append(_cell(summary, SCALEOUT.key, deployment, metric, notes))
        lines.append(f"| {metric.label} {arrow} | " + " | ".join(cells) + " |")
    return "\n".join(lines), notes


def _ratio(summary: Summary, scenario: str, system: str, other: str, metric: Metric) -> float:
    """``system`` ÷ ``other`` on ``metric``, from the paired ratios to raw (0 if unknown)."""

    def to_raw(name: str) -> float:
        if name == REFERENCE:
            return 1.0
        entry = summary.get(scenario, {}).get(name) or {}
        return float(entry.get("ratios", {}).get(metric.key, 0.0))

    mine, theirs = to_raw(system), to_raw(other)
    return mine / theirs if theirs else 0.0


def _findings(document: dict[str, Any]) -> list[str]:
    """Where realtime is far from raw, where a system failed, and where the run was noisy."""
    summary: Summary = document["summary"]
    found: list[str] = []
    for scenario in SCENARIOS:
        for other, threshold in ((REFERENCE, SLOW_RATIO), ("socketio", 1.05)):
            worse: list[str] = []
            for metric in scenario.metrics:
                ours = _value(summary, scenario.key, "realtime", metric)
                theirs = _value(summary, scenario.key, other, metric)
                ratio = _ratio(summary, scenario.key, "realtime", other, metric)
                if not ours or not theirs or not ratio or metric.key == "http_requests":
                    continue
                cost = 1 / ratio if metric.higher_is_better else ratio
                if cost >= threshold:
                    worse.append(
                        f"{metric.label} {_number(ours)} against {_number(theirs)} "
                        f"({cost:.2f}× worse)"
                    )
            if worse:
                found.append(
                    f"realtime behind {LABELS[other]}, {scenario.title}: {'; '.join(worse)}."
                )
    found += _run_findings(summary, [key for key in summary if key != SCALEOUT.key])
    return found


def _run_findings(summary: Summary, scenarios: list[str]) -> list[str]:
    """Where the load generator may have been the limit, the machine was noisy, or a
    server logged something."""
    found: list[str] = []
    for key in scenarios:
        for system, entry in summary.get(key, {}).items():
            figures = entry.get("metrics") or {}
            where = f"{_label(key, system)}, {_scenario_title(key)}"
            if figures.get("loadgen_busy", 0) > 0.9:
                found.append(
                    f"{where}: the load generator was busy {figures['loadgen_busy']:.0%}"
                    " of the time, so it, not the server, may have been the limit."
                )
            if figures.get("others_busy", 0) > NOISY:
                found.append(
                    f"{where}: other processes used {figures['others_busy']:.2f} cores "
                    "during the measurement (noise)."
                )
            if entry.get("server_log"):
                first = entry["server_log"].splitlines()[0][:200]
                found.append(f"{where}: the server logged `{first}`.")
    return found


def _save(fig: Any, path: Path) -> None:
    """Write a chart's PNG and free the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _chart(document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary: Summary = document["summary"]
    systems = [s for s in SYSTEMS if s in document["meta"]["systems"]]
    panels: list[tuple[str, list[tuple[str, str, str]], bool]] = [
        ("WebSocket echo: round trips/s ↑", [("echo_ws", "msgs_per_s", "echo")], False),
        (
            "Fan-out: deliveries/s ↑",
            [(f"fanout_{t}", "deliveries_per_s", t) for t in ("ws", "sse", "longpoll")],
            False,
        ),
        (
            "Fan-out: p99 delivery latency (ms) ↓",
            [(f"fanout_{t}", "p99_ms", t) for t in ("ws", "sse", "longpoll")],
            False,
        ),
        (
            "Server CPU per message (µs) ↓",
            [("echo_ws", "cpu_us_per_msg", "echo")]
            + [(f"fanout_{t}", "cpu_us_per_delivery", t) for t in ("ws", "sse", "longpoll")],
            False,
        ),
        (
            "Idle memory per session (KiB) ↓",
            [(f"idle_{t}", "kib_per_session", t) for t in ("ws", "sse", "longpoll")],
            False,
        ),
        (
            "Time to first message (ms, log) ↓",
            [
                ("ttfm_ws_blocked", "ttfm_ms", "WS blocked"),
                ("ttfm_sse_buffered", "ttfm_ms", "+SSE buffered"),
            ],
            True,
        ),
    ]
    colors = {"raw": "#9e9e9e", "realtime": "#1f77b4", "socketio": "#ff7f0e"}
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    width = 0.8 / len(systems)
    for ax, (title, groups, log) in zip(axes.flat, panels, strict=True):
        for j, system in enumerate(systems):
            for g, (scenario, key, _) in enumerate(groups):
                x = g + (j - (len(systems) - 1) / 2) * width
                entry = summary.get(scenario, {}).get(system)
                value = None
                if entry and entry["status"] == "ok":
                    value = entry["metrics"].get(key)
                if isinstance(value, (int, float)):
                    ax.bar(
                        x,
                        value,
                        width,
                        color=colors[system],
                        label=LABELS[system] if g == 0 else None,
                    )
                else:
                    mark = "n/a" if entry and entry["status"] == "n/a" else "err"
                    ax.text(x, 0, mark, ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_xticks(range(len(groups)), [label for _, _, label in groups])
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    meta = document["meta"]
    fig.suptitle(
        f"realtime vs raw Starlette vs python-socketio — median of {meta['settings']['rounds']} "
        f"round(s), {meta['date'][:10]}, {meta['machine']['cpu']}, "
        f"{meta['machine']['cores']} cores (server on one, load generator on the other)",
        fontsize=11,
    )
    _save(fig, path)


def _doc(document: dict[str, Any], results: Path) -> str:
    meta = document["meta"]
    s = meta["settings"]
    machine = meta["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    table, notes = markdown_table(document)
    findings = _findings(document)
    na = sorted(
        {
            f"{LABELS[system]}: {entry['reason']}"
            for systems in document["summary"].values()
            for system, entry in systems.items()
            if entry["status"] == "n/a"
        }
    )
    fanout = s["fanout_sessions"]
    commit = meta["git"]["commit"] + (", uncommitted changes" if meta["git"]["dirty"] else "")
    results_section = [
        "## Results",
        "",
        f"Median of {s['rounds']} round{'s' if s['rounds'] != 1 else ''}. In parentheses: the "
        "ratio to raw Starlette, the median over rounds of the ratio within each round (the "
        "systems run back to back in every round, so drift between rounds cancels out; ↑ "
        "higher is better, ↓ lower is better). **error** means at "
        "least one round failed its correctness checks (see the notes); n/a means the system "
        "has no such transport. † marks a measurement during which other processes of the "
        f"machine used more than {NOISY} core (median over rounds): take it with salt.",
        "",
        table,
        "",
        *[f"{i}. {note}" for i, note in enumerate(notes, 1)],
        *([""] if notes else []),
        *[f"- n/a: {reason}." for reason in na],
        "",
        "![Benchmark chart](img/benchmarks.png)",
        "",
        "### Findings of this run",
        "",
        *([f"- {f}" for f in findings] or ["- Nothing stood out."]),
        "",
    ]
    parts = [
        "# Benchmarks",
        "",
        f"realtime against the floor (bare Starlette endpoints on the same uvicorn) and against "
        f"python-socketio, and realtime on Redis and on several nodes against realtime in memory, "
        f"on one machine, over loopback. Generated by `{meta['command']}` on "
        f"{meta['date']} (git {commit}); "
        f"every figure is in `{_shown(results)}`.",
        "",
        *(results_section if _has_systems(document) else []),
        *_scaleout_section(document),
        "## How to run",
        "",
        "```sh",
        ".venv/bin/pip install -r bench/requirements.txt   # matplotlib, for the chart",
        ".venv/bin/python -m bench --quick   # smoke run: 1 round, fewer sessions, < 2 minutes",
        f".venv/bin/python -m bench           # the figures above: {FULL.rounds} rounds, "
        "< 15 minutes",
        ".venv/bin/python -m bench.report    # redo this page and the charts from latest.json",
        ".venv/bin/python -m bench --only scaleout   # the scale-out alone (partial.json)",
        "```",
        "",
        "Options: `--only echo_ws,fanout_ws` (scenarios; `scaleout` is one), "
        "`--systems raw,realtime`, `--rounds N`, "
        "`--open-timeout SECONDS` (realtime's client fallback wait), `--redis-connections N` "
        "(the scale-out nodes' Redis connection pool), `--out FILE`, "
        "`--docs`/`--no-docs`. A full run of everything writes `bench/results/latest.json` and "
        "rewrites this page; a full-size run of some scenarios writes "
        "`bench/results/partial.json`, `--quick` writes `bench/results/quick.json`, and "
        "neither touches this page unless given `--docs`. The exit status is 1 if any "
        "measurement failed. Keep the machine otherwise idle while it runs.",
        "",
        "## Method",
        "",
        "- **Processes.** Every measurement starts a fresh uvicorn process for the system under "
        "test (uvloop, httptools, websockets-sansio, access log off; the same settings for all), "
        "pinned with `taskset -c 0`, on a socket the harness binds to 127.0.0.1:0; it is stopped "
        "by its pid afterwards. The load generator, `python -m bench` itself, pins itself to "
        "core 1, runs on uvloop and pauses its own garbage collector during each measurement.",
        "- **Interleaving.** Each round runs every scenario for every system; the order of the "
        "systems rotates from round to round. The table shows the median over rounds.",
        "- **Same client costs for all.** The load generator speaks each wire protocol directly "
        "(never realtime's Python client): the `websockets` asyncio client for WebSocket (no "
        "compression, no client pings) and one minimal HTTP/1.1 keep-alive client on asyncio "
        "streams for SSE, long-polling and POSTs. realtime's clients negotiate, acknowledge what "
        "they read after 256 messages or 50 ms (WebSocket) / 250 ms (SSE, by POST) like "
        "realtime's own client, and ack long-polls with `last`; Socket.IO clients speak Engine.IO "
        "v4 / Socket.IO v5 and answer pings.",
        "- **Server CPU** is user + system time of the server process from `/proc/<pid>/stat` "
        "(10 ms ticks) over the measured phase, divided by the messages of the phase. "
        "**Memory** is `VmRSS` from `/proc/<pid>/status`.",
        "- **Correctness.** Every echo must match what was sent; every session must receive "
        "every broadcast, once and in order; no session may be closed by the server. Otherwise "
        "the measurement is an error, not a number.",
        "",
        "## Scenarios",
        "",
        f"- **WebSocket echo.** {s['echo_clients']} WebSocket sessions, each sending a "
        f"~50-byte message and waiting for its echo, in a loop, for {s['echo_seconds']:g} s "
        f"(after {s['echo_warmup']} warm-up round trips each). Round trips per second, "
        "round-trip latency, server CPU per round trip.",
        f"- **Fan-out.** {fanout['websocket']} WebSocket, {fanout['sse']} SSE or "
        f"{fanout['longpoll']} long-polling sessions, all in one room; {s['broadcasts']} "
        f"broadcasts (after {s['broadcast_warmup']} warm-up ones), each triggered by "
        "`POST /bench/broadcast` whose body carries its number and the load generator's clock. "
        f"At most {s['broadcast_window']} broadcasts are outstanding (not yet delivered to every "
        "session). Deliveries per second (sessions × broadcasts / time from the first trigger to "
        "the last delivery), delivery latency (arrival − trigger time), the HTTP requests the "
        "clients made meanwhile (polls, acks, pongs; not the triggers) and server CPU per "
        "delivery. realtime publishes with `await rt.hub.publish(room, payload)`; raw loops "
        "`await ws.send_text()` over its WebSockets and puts into per-client queues for SSE "
        "(sse-starlette) and long-polls; python-socketio calls `await sio.emit(..., room=...)`.",
        f"- **Burst fan-out.** {s['burst_sessions']['websocket']} WebSocket or "
        f"{s['burst_sessions']['sse']} SSE sessions, all in one room; after the fan-out's "
        f"warm-up, one `POST /bench/burst` has the server publish {s['burst_broadcasts']} "
        "broadcasts back to back in one loop, nothing outstanding-limited. Each carries the "
        "server's `time.perf_counter()` at its publication (CLOCK_MONOTONIC, shared with the "
        "load generator), so a system that queues the whole burst before writing shows it in "
        "its latency. Deliveries per second (sessions × broadcasts / time from the request to "
        "the last delivery), delivery latency, HTTP requests and CPU per delivery as in the "
        "fan-out.",
        f"- **Idle memory.** With {s['idle_warmup_sessions']} sessions open (warm code paths), "
        f"the server's VmRSS is read after {s['settle']:g} s; then {s['idle_sessions']} more "
        f"sessions are opened and left idle (WebSocket open, event stream open, long-poll "
        f"pending), and VmRSS is read again after {s['settle']:g} s. Growth ÷ sessions.",
        "- **Time to first message.** From the client's first request to the echo of its first "
        "message, through a proxy in the load generator that answers 404 to WebSocket upgrades "
        '("WS blocked"), and that also holds back the body of `text/event-stream` answers '
        '("+ SSE buffered", a proxy buffering whole responses, which no padding defeats). '
        "realtime: negotiate, WebSocket (refused), SSE (given up when its hello does not arrive "
        f"within the client's open timeout, {s['open_timeout']:g} s, the default of "
        "`realtime.client`), long-polling. python-socketio: its default path, polling handshake "
        "and connect over polling with the WebSocket upgrade probe (refused) beside it; it never "
        "uses SSE, so a buffering proxy changes nothing for it. raw: the floor of a fallback "
        "client: WebSocket refused, then straight to the transport that works, with no "
        f"negotiation and no wait. {s['ttfm_iterations']} attempts per round (1 when SSE is "
        "buffered), after one warm-up attempt; median.",
        "- **Scale-out.** The fan-out's method, with sessions of every transport at once: "
        "realtime on one node in memory, one node on Redis and two nodes on Redis, and "
        "python-socketio on AsyncRedisManager on one node and two, behind nginx; see "
        "[Scale-out](#scale-out).",
        "",
        "## Machine",
        "",
        f"- {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB; "
        f"{machine['os']}, Linux {machine['kernel']}; Python {machine['python']}.",
        f"- {versions}.",
        f"- This run took {meta.get('duration_s', '?')} s.",
        "",
        "## Caveats",
        "",
        "- Loopback on one small machine: no network latency, no TLS, no proxy (except the "
        "hostile one of the first-message scenarios). Absolute figures say little about "
        "production; the ratios measured in the same run are the point.",
        "- The load generator is Python too, on one core. Where it is busy most of the time "
        "(`loadgen_busy` in the JSON, listed under findings above 90 %), the throughput figures "
        "measure it as much as the server. Server CPU per message does not depend on it.",
        "- Run-to-run spread is real even on a quiet machine (a small VM): fan-out "
        "throughput of the same system varied by 20–40 % between rounds while we built this. "
        "The median dampens it; each round's figures and each figure's [min, max] (`spread`) "
        "are in the JSON. Compare ratios, and distrust differences of a few percent.",
        "- CPU time has a resolution of 10 ms, so short phases (the quick mode) give coarse "
        "CPU figures. The machine may be shared: `others_busy` in the JSON is the CPU other "
        "processes used during each measurement (listed under findings above 0.1 core).",
        "- The systems do different work: realtime numbers, stores until acknowledged and "
        "acknowledges every message (and its SSE clients POST acks), raw does none of that and "
        "python-socketio encodes JSON packets. That cost is what is being measured.",
        "- RSS growth includes allocator slack and what Python does not return to the system; "
        "it is a rough per-session figure, not a precise one.",
        "- The first-message figures measure the client strategy as much as the server: for "
        "realtime with buffered SSE it is essentially the client's open timeout.",
        "- The scale-out runs every server process on one core (see its section): it "
        "measures the cost of coordinating through Redis, not how far several machines go.",
        "",
    ]
    return "\n".join(parts)


def _scaleout_section(document: dict[str, Any]) -> list[str]:
    if SCALEOUT.key not in document["summary"]:
        return []
    meta = document["meta"]
    s = meta["settings"]
    summary = document["summary"][SCALEOUT.key]
    table, notes = scaleout_table(document)
    findings = _scaleout_findings(document)
    two = summary.get("redis-2", {})
    spread = ""
    if two.get("status") == "ok" and "handlers_node_min" in two["metrics"]:
        figures = two["metrics"]
        spread = (
            f" On 2 nodes, each node ran between {_number(figures['handlers_node_min'])} and "
            f"{_number(figures['handlers_node_max'])} of the "
            f"{_number(figures['sessions'])} sessions' handlers (median over rounds; each "
            "round's split, and the WebSockets and streams or polls each node held, are in "
            "the JSON)."
        )
    memory = []
    for key in ("redis-1", "redis-2"):
        figures = summary.get(key, {}).get("metrics") or {}
        if "redis_bytes_per_session" in figures:
            memory.append(
                f"{_number(figures['redis_bytes_per_session'])} bytes ({DEPLOYMENT_LABELS[key]})"
            )
    redis_memory = document.get("redis_memory") or {}
    if "output" in redis_memory:
        synthetic = [
            "`python -m bench.redis_memory` measures the same, by state of a session, on "
            "synthetic sessions (four request headers, a user) created through the backend "
            "directly; this run called it:",
            "",
            "```",
            redis_memory["output"],
            "```",
        ]
    else:
        why = redis_memory.get("error", "not called in this run")
        synthetic = [f"`python -m bench.redis_memory` (per state of a session): {why}."]
    pool = s.get("redis_connections", 100)
    return [
        "## Scale-out",
        "",
        "realtime on three deployments behind the same nginx (round-robin without affinity, "
        "the configuration of [Scaling out](how-to/scaling.md)): one node with the in-memory "
        "backend, one node on Redis, two nodes on one Redis; beside it python-socketio on its "
        "AsyncRedisManager, one node and two. "
        f"{_scaleout_load(s)}, all in one room (python-socketio: WebSocket only); the broadcasts "
        "are published through nginx (so on two nodes by each node in turn, reaching the "
        "other's sessions through Redis). "
        f"Median of {s['rounds']} round{'s' if s['rounds'] != 1 else ''}; in parentheses the "
        "ratio to realtime in memory on 1 node, paired within each round as above. n/a: no "
        "Redis, or no such transport.",
        "",
        table,
        "",
        *[f"{i}. {note}" for i, note in enumerate(notes, 1)],
        *([""] if notes else []),
        "![Scale-out chart](img/scaleout.png)",
        "",
        "**Pinning: what the 2-node columns mean.** The machine has 2 cores. Every process of "
        "the server side (the nodes, redis-server, nginx) runs on core 0: the nodes under "
        "`taskset -c 0`, redis-server and nginx started from a harness thread pinned to core 0 "
        "so that they, every thread and every worker inherit it (`server_cpus` in the JSON "
        "lists each process's cores). The load generator runs alone on core 1. Two nodes "
        "on one core share it with Redis and nginx, so the 2-node columns measure what "
        "coordinating through Redis costs (cross-node publishes, sessions whose requests "
        "land on different nodes), never a speed-up: here more nodes can only cost more. On "
        "machines where each node has its own cores, throughput would grow with the nodes "
        "until redis-server, one thread, is busy: at the redis-server CPU per delivery "
        "measured here, one Redis core serves at most 10⁶ ÷ that many deliveries per second.",
        "",
        "**Figures.** Server CPU per delivery is the CPU time of the nodes and redis-server "
        "(from `/proc`, 10 ms ticks) over the broadcasts ÷ deliveries; nginx's is apart, the "
        "same proxy in front of every deployment. How busy the server core was (in the "
        "findings): the share of the time core 0 spent on all of them (near 1: the server side "
        "was the limit). The latency "
        "rows per transport are p99s of those sessions only. HTTP requests: what the clients "
        "sent meanwhile (SSE acks, polls; not the triggers). Opening the sessions: from the "
        "first negotiation to the room counting every session.",
        "",
        "**Checks.** Every trigger must answer that its broadcast was queued for every "
        "session (over all nodes); every session must get every broadcast once and in order, "
        "with no gap in realtime's numbering; every session's handler must run on exactly "
        "one node, and on 2 nodes every node must run handlers and hold WebSockets. Otherwise "
        f"the measurement is an error.{spread}",
        "",
        f"**Redis connection pool.** Each node's RedisBackend opens at most {pool} "
        "connections (`max_connections`); a command finding them all busy waits for one "
        "(up to `pool_timeout`, 30 s).",
        "",
        "### Redis memory per session",
        "",
        "From the same runs: `MEMORY USAGE` summed over the nodes' keys once every session "
        "has joined the room, less before the sessions opened, ÷ sessions: "
        f"{' and '.join(memory) or 'no figure'} (the session's hash and room set, and its "
        "share of the room and index sets; no message is queued then). Connections' buffers "
        "are not in it: they depend on the nodes' pools, not on the sessions (see the "
        "findings below).",
        "",
        *synthetic,
        "",
        "### Findings of the scale-out",
        "",
        *([f"- {f}" for f in findings] or ["- Nothing stood out."]),
        "",
        "How to read the Redis commands: the publish runs one script (EVALSHA) for the whole "
        "room, whatever its size: INCR of the publish counter, XADD to the room's log and "
        "one PUBLISH per node holding members' connections. Each read of a session's pending "
        "messages is a script that first merges what its rooms published since into its own "
        "stream (HMGET, GET, SMEMBERS, XRANGE of the logs, XADD, HSET, and the byte budget's "
        "GET and INCRBY), then reads it (XRANGE); each acknowledgement is a script (HMGET, "
        "XRANGE, XTRIM, HSET, HINCRBY, INCRBY). See how-to/scaling.md.",
        "",
    ]


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def write_docs(document: dict[str, Any], results: Path) -> list[Path]:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(_doc(document, results))
    written = [DOC]
    if _has_systems(document):
        _chart(document, CHART)
        written.append(CHART)
    if SCALEOUT.key in document["summary"]:
        _scaleout_chart(document, SCALEOUT_CHART)
        written.append(SCALEOUT_CHART)
    return written


def _scaleout_findings(document: dict[str, Any]) -> list[str]:
    """Redis against memory, in the figures of this run."""
    summary = document["summary"].get(SCALEOUT.key, {})
    found: list[str] = []
    memory = summary.get(SCALEOUT.reference, {})
    if memory.get("status") != "ok":
        return found + _run_findings(document["summary"], [SCALEOUT.key])
    base = memory["metrics"]
    for deployment in _deployments(document):
        entry = summary[deployment]
        if deployment == SCALEOUT.reference or entry["status"] != "ok":
            continue
        figures, ratios = entry["metrics"], entry.get("ratios", {})
        label = DEPLOYMENT_LABELS[deployment]
        parts = []
        if "deliveries_per_s" in ratios:
            ratio = ratios["deliveries_per_s"]
            more = ratio >= 1
            parts.append(
                f"{ratio if more else 1 / ratio:.2f}× {'more' if more else 'fewer'} deliveries/s"
            )
        for key, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
            if key in ratios:
                parts.append(
                    f"{name} {_number(figures[key])} ms against {_number(base[key])} ms "
                    f"({ratios[key]:.1f}×)"
                )
        if "cpu_us_per_delivery" in ratios:
            parts.append(
                f"{_number(figures['cpu_us_per_delivery'])} µs of server CPU per delivery "
                f"against {_number(base['cpu_us_per_delivery'])} µs "
                f"({ratios['cpu_us_per_delivery']:.1f}×), of which redis-server "
                f"{_number(figures.get('redis_cpu_us_per_delivery', 0))} µs"
            )
        if parts:
            found.append(f"{label}: {'; '.join(parts)}.")
        redis_cpu = figures.get("redis_cpu_us_per_delivery")
        if isinstance(redis_cpu, (int, float)) and redis_cpu > 0:
            found.append(
                f"{label}: at {_number(redis_cpu)} µs of redis-server CPU per delivery, one "
                f"Redis core caps any number of nodes at about {_number(1e6 / redis_cpu)} "
                f"deliveries/s; one node in memory delivered {_number(base['deliveries_per_s'])}"
                "/s here, on a core it shared with nginx."
            )
        calls = {
            key.removeprefix(CALLS): value
            for key, value in figures.items()
            if key.startswith(CALLS) and isinstance(value, (int, float))
        }
        if calls:
            shown = ", ".join(
                f"{name} {rate:.2f}"
                for name, rate in sorted(calls.items(), key=lambda item: -item[1])
            )
            found.append(f"{label}: Redis commands per delivery (scripts' included): {shown}.")
        if "redis_connections" in figures:
            found.append(
                f"{label}: the nodes held {_number(figures['redis_connections'])} connections "
                f"to Redis after the broadcasts ({_number(figures['redis_client_buffers_kib'])} "
                "KiB of client buffers in Redis)."
            )
    busy = [
        f"{_number(summary[d]['metrics']['server_busy'])} ({DEPLOYMENT_LABELS[d]})"
        for d in _deployments(document)
        if summary[d]["status"] == "ok" and "server_busy" in summary[d]["metrics"]
    ]
    if busy:
        found.append(
            f"Share of the time the server core was busy during the broadcasts: {', '.join(busy)} "
            "(near 1: the server side, not the load generator, was the limit)."
        )
    return found + _run_findings(document["summary"], [SCALEOUT.key])


def _scaleout_chart(document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = document["summary"][SCALEOUT.key]
    deployments = [d for d in _deployments(document) if summary[d]["status"] == "ok"]
    labels = [DEPLOYMENT_LABELS[d].replace(", ", "\n") for d in deployments]
    figures = [summary[d]["metrics"] for d in deployments]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    x = range(len(deployments))
    axes[0].bar(x, [f["deliveries_per_s"] for f in figures], color="#1f77b4")
    axes[0].set_title("deliveries/s ↑", fontsize=10)
    width = 0.38
    axes[1].bar([i - width / 2 for i in x], [f["p50_ms"] for f in figures], width, label="p50")
    axes[1].bar([i + width / 2 for i in x], [f["p99_ms"] for f in figures], width, label="p99")
    axes[1].set_title("delivery latency (ms) ↓", fontsize=10)
    axes[1].legend(fontsize=8)
    bottom = [0.0] * len(figures)
    for key, name, color in (
        ("node_cpu_us_per_delivery", "nodes", "#1f77b4"),
        ("redis_cpu_us_per_delivery", "redis-server", "#d62728"),
        ("nginx_cpu_us_per_delivery", "nginx", "#9e9e9e"),
    ):
        values = [float(f.get(key, 0.0)) for f in figures]
        axes[2].bar(x, values, bottom=bottom, color=color, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes[2].set_title("CPU per delivery (µs) ↓", fontsize=10)
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xticks(list(x), labels, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    meta = document["meta"]
    fig.suptitle(
        f"{_scaleout_title(meta['settings'])}, behind nginx; median of "
        f"{meta['settings']['rounds']} round(s); every server process on one core",
        fontsize=10,
    )
    _save(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    default = ROOT / "bench" / "results" / "latest.json"
    parser.add_argument("results", type=Path, nargs="?", default=default)
    args = parser.parse_args()
    document = json.loads(args.results.read_text())
    document["summary"] = summarize(document["records"])
    for path in write_docs(document, args.results.resolve()):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
