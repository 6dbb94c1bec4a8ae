"""examples/multi_node in Chromium: the chat (examples/chat) on three uvicorn processes sharing
a real Redis, behind nginx round-robin without affinity; six pages talk, one node is killed
(SIGKILL: no drain, no goodbye), and every page still talks and hears every other one.

The pages open while only the node to kill runs, so that it runs all six handlers; the other
two start before it dies. The dead node's handlers restart on them (``session.restarted``) with
the room and nickname they saved in ``session.state``; the pages joined once and never again.
Nobody is announced as having left: the sessions lived on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.servers import balancer, die_with_parent, free_port, nginx, redis_server, wait_for_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NODES = 3
DOOMED = 1
"""The node that runs every handler, then dies."""
PAGES = [
    ("p0", ""),
    ("p1", "sse"),
    ("p2", "longpoll"),
    ("p3", ""),
    ("p4", "sse"),
    ("p5", "longpoll"),
]
AFTER_A_DEATH_MS = 30_000
"""How long a page may take to talk again after the kill: the dead node's handlers restart
once Redis counts it dead (node_ttl, 3 s) and a reaper looks (1 s); clients back off."""


class Chat:
    def __init__(self, directory: Path, redis_url: str) -> None:
        self.directory = directory
        self.redis_url = redis_url
        self.ports = [free_port() for _ in range(NODES)]
        self.nodes: list[subprocess.Popen[bytes] | None] = [None] * NODES
        self.url = ""

    def start(self, index: int) -> None:
        env = {**os.environ, "REALTIME_REDIS_URL": self.redis_url}
        log = open(self.directory / f"node{index}.log", "ab")
        command = ["-m", "uvicorn", "examples.chat.app:app", "--host", "127.0.0.1"]
        self.nodes[index] = subprocess.Popen(
            [sys.executable, *command, "--port", str(self.ports[index]), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        log.close()
        wait_for_port(self.ports[index])

    def stop(self, index: int, how: signal.Signals = signal.SIGTERM) -> None:
        node = self.nodes[index]
        if node is not None:
            node.send_signal(how)
            try:
                node.wait(15)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait(5)
            self.nodes[index] = None


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Chat]:
    with contextlib.ExitStack() as stack:
        redis_url, _ = stack.enter_context(redis_server(tmp_path / "redis"))
        cluster = Chat(tmp_path, redis_url)
        for index in range(NODES):
            stack.callback(cluster.stop, index)
        cluster.start(DOOMED)  # alone for now: nginx passes every request to it
        port = free_port()
        upstreams = [f"127.0.0.1:{p} max_fails=1 fail_timeout=1s" for p in cluster.ports]
        stack.enter_context(nginx(balancer(port, upstreams), tmp_path / "nginx"))
        wait_for_port(port)
        cluster.url = f"http://127.0.0.1:{port}"
        yield cluster


def say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def test_every_page_still_talks_after_a_node_is_killed(browser: Browser, chat: Chat) -> None:
    pages: list[Page] = []
    with contextlib.ExitStack() as stack:
        for nick, transport in PAGES:
            context = browser.new_context()
            stack.callback(context.close)
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.goto(f"{chat.url}/?nick={nick}" + (f"&transport={transport}" if transport else ""))
            pages.append(page)
        for page in pages:
            expect(page.locator("#state")).to_have_text("open")
            expect(page.locator("#online")).to_have_text(f"{len(PAGES)} in #general")
        for page, (nick, _) in zip(pages, PAGES, strict=True):
            say(page, f"before from {nick}")
        for page in pages:
            for nick, _ in PAGES:
                expect(page.locator("#log")).to_contain_text(f"{nick}before from {nick}")

        for index in range(NODES):
            if index != DOOMED:
                chat.start(index)
        chat.stop(DOOMED, signal.SIGKILL)

        for page, (nick, _) in zip(pages, PAGES, strict=True):
            say(page, f"after from {nick}")
        for page in pages:
            for nick, _ in PAGES:
                expect(page.locator("#log")).to_contain_text(
                    f"{nick}after from {nick}", timeout=AFTER_A_DEATH_MS
                )
            expect(page.locator("#log")).not_to_contain_text(" left")
            expect(page.locator("#online")).to_have_text(f"{len(PAGES)} in #general")
            # A call answered by a restarted handler, once: it still knows the room.
            answer = page.evaluate("rt.call('join', {room: 'general'}, {timeout: 10000})")
            assert answer == {"room": "general", "online": len(PAGES)}

        # A tab that closes ends its session (the page does on pagehide): the others see it
        # leave at once, not session_ttl later.
        pages[0].close(run_before_unload=True)
        for page in pages[1:]:
            expect(page.locator("#log")).to_contain_text("p0 left")
            expect(page.locator("#online")).to_have_text(f"{len(PAGES) - 1} in #general")
