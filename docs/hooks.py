"""mkdocs hook: pages that hold ``<!-- close-codes -->`` get the table of close codes, made
from ``realtime.protocol.frames`` at build time, so that it cannot drift from the code."""

from __future__ import annotations

from typing import Any

from realtime.protocol.frames import CLOSE_CODE_EXPLANATIONS, CloseCode, reconnect_policy

PLACEHOLDER = "<!-- close-codes -->"

AFTER = {
    "resume": "reconnect with backoff and **resume** the session",
    "new": "start a **new** session and tell the application (`reset` event, `on_reset`)",
    "stop": "**stop**: the session is over",
}


def after(code: int) -> str:
    if code == CloseCode.TRANSPORT_REPLACED:
        return "**stop** this connection: another one carries the session on"
    return AFTER[reconnect_policy(code)]


def close_codes_table() -> str:
    rows = [(1006, "", "no close frame: the connection dropped")]
    rows += [(int(code), code.name, CLOSE_CODE_EXPLANATIONS[code]) for code in CloseCode]
    lines = [
        "| code | `CloseCode` | meaning | clients then |",
        "|---|---|---|---|",
        *(
            f"| {code} | {name} | {meaning} | {after(code)} |"
            for code, name, meaning in sorted(rows)
        ),
        f"| other | | an application's code | {AFTER['stop']} |",
    ]
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return markdown.replace(PLACEHOLDER, close_codes_table())
