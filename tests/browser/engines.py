"""Firefox and WebKit for the browser tests, each behind the same two calls: ``load(url)`` (a
fresh page, then wait for ``window.ready``) and ``evaluate(function, arg)`` (await
``function(arg)`` in the page and return its JSON value).

- Firefox: Debian's firefox-esr over WebDriver BiDi, by puppeteer-core (from client-js's
  node_modules) in a Node process, tests/browser/firefox.mjs, which takes JSON lines.
- WebKit: WebKitGTK's WebKitWebDriver (Debian's webkit2gtk-driver), which drives its
  MiniBrowser, under Xvfb; WebDriver's HTTP protocol spoken with httpx.

Every process is started here, stopped here by its pid, and gets SIGTERM if the tests die.
Every wait is bounded by ``TIMEOUT``.
"""

from __future__ import annotations

import json
import os
import queue
import select
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Protocol

import httpx

from tests.servers import die_with_parent, free_port, wait_for_port

TIMEOUT = 30.0
"""Seconds any one step may take: a launch, a page load, an evaluation."""

READY = """() => new Promise((ok, fail) => {
  const start = Date.now();
  (function poll() {
    if (window.ready) ok(true);
    else if (Date.now() - start > 15000) fail(new Error("the page never got ready"));
    else setTimeout(poll, 20);
  })();
})"""


class Engine(Protocol):
    name: str

    def load(self, url: str) -> None: ...

    def evaluate(self, function: str, arg: Any = None) -> Any: ...

    def close(self) -> None: ...


def stop(process: subprocess.Popen[Any]) -> None:
    """Stop a process started here, by its pid: TERM, then KILL if it lingers."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class Firefox:
    name = "firefox"

    def __init__(self) -> None:
        script = Path(__file__).with_name("firefox.mjs")
        node = shutil.which("node")
        assert node is not None, "node drives Firefox (with puppeteer-core)"
        self.process = subprocess.Popen(
            [node, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            ready = self._answer()
            assert ready.get("ready"), ready
        except BaseException:
            self.close()
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def _answer(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise TimeoutError(f"no answer from Firefox in {TIMEOUT} s") from None
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _call(self, command: dict[str, Any]) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        if "error" in answer:
            raise RuntimeError(f"Firefox: {answer['error']}")
        return answer["value"]

    def load(self, url: str) -> None:
        self._call({"goto": url})
        self.evaluate(READY)

    def evaluate(self, function: str, arg: Any = None) -> Any:
        return self._call({"evaluate": function, "arg": arg})

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the bridge closes Firefox, then exits
        try:
            self.process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            stop(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()


# The page's function runs as a WebDriver async script: its last argument is the callback.
ASYNC_SCRIPT = """const done = arguments[arguments.length - 1];
Promise.resolve().then(() => (%s)(arguments[0]))
  .then((value) => done({ value }), (error) => done({ error: String(error) }));"""


class WebKit:
    name = "webkit"

    def __init__(self) -> None:
        self.xvfb, display = start_xvfb()
        self.driver: subprocess.Popen[bytes] | None = None
        self.session = ""
        try:
            port = free_port()
            binary = shutil.which("WebKitWebDriver")
            assert binary is not None, "WebKitWebDriver comes with Debian's webkit2gtk-driver"
            self.driver = subprocess.Popen(
                [binary, f"--port={port}", "--host=127.0.0.1"],
                env={**os.environ, "DISPLAY": display},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
            wait_for_port(port)
            self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT + 5)
            capabilities = {"capabilities": {"alwaysMatch": {"browserName": "MiniBrowser"}}}
            self.session = self._call("POST", "/session", capabilities)["sessionId"]
            timeouts = {"script": TIMEOUT * 1000, "pageLoad": TIMEOUT * 1000}
            self._call("POST", f"/session/{self.session}/timeouts", timeouts)
        except BaseException:
            self.close()
            raise

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        value = response.json()["value"]
        if response.status_code != 200:
            raise RuntimeError(f"WebKitWebDriver {method} {path}: {value}")
        return value

    def load(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": "about:blank"})
        self._call("POST", f"/session/{self.session}/url", {"url": url})
        self.evaluate(READY)

    def evaluate(self, function: str, arg: Any = None) -> Any:
        script = {"script": ASYNC_SCRIPT % function, "args": [arg]}
        answer = self._call("POST", f"/session/{self.session}/execute/async", script)
        if "error" in answer:
            raise RuntimeError(f"WebKit: {answer['error']}")
        return answer.get("value")

    def close(self) -> None:
        try:
            if self.session:
                self._call("DELETE", f"/session/{self.session}")
                self.http.close()
        finally:
            if self.driver is not None:
                stop(self.driver)
            stop(self.xvfb)


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """An X server of its own (no TCP): the process and its DISPLAY."""
    binary = shutil.which("Xvfb")
    assert binary is not None, "Xvfb comes with Debian's xvfb"
    read, write = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=[write],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    os.close(write)
    try:
        number = b""
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read], [], [], TIMEOUT)
            chunk = os.read(read, 16) if ready else b""
            if not chunk:
                stop(process)
                raise RuntimeError("Xvfb did not say which display it took")
            number += chunk
    finally:
        os.close(read)
    return process, f":{number.decode().strip()}"
