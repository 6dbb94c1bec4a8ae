"""Every example's page in a real Chromium (tests/browser's fixtures): it loads, connects,
shows live data and takes input; a screenshot of each goes to the test's tmp dir.

All the browser tests of this directory are in this one module: the browser fixture lives
for a module (see tests/browser/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def screenshot(page: Page, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, "a blank page"
    return path


def say(page: Page, field: str, text: str) -> None:
    page.fill(field, text)
    page.press(field, "Enter")


def test_chat(page: Page, chat: str, tmp_path: Path) -> None:
    page.goto(f"{chat}/?nick=ada")
    expect(page.locator("#state")).to_have_text("open")
    expect(page.locator("#online")).to_have_text("1 in #general")
    say(page, "#text", "hello from the browser")
    expect(page.locator("#log li").last).to_contain_text("adahello from the browser")
    expect(page.locator("#using")).to_have_text("websocket")
    expect(page.locator("#log")).to_contain_text("ada joined")
    screenshot(page, tmp_path, "chat")


def test_dashboard(page: Page, dashboard: str, tmp_path: Path) -> None:
    page.goto(f"{dashboard}/")
    expect(page.locator("#state")).to_have_text("live")
    expect(page.locator("#transport")).to_have_text("sse")  # the page allows sse, longpoll
    first = page.locator("#footer").inner_text()
    expect(page.locator("#footer")).to_contain_text("sample #")
    expect(page.locator("#footer")).not_to_have_text(first)  # samples keep coming
    page.wait_for_function("document.querySelector('#cpu .line').points.numberOfItems >= 4")
    for metric in ("cpu", "memory", "rps"):
        number = page.locator(f"#{metric} .number").inner_text()
        assert float(number.replace(",", "")) > 0, (metric, number)
    expect(page.locator("#viewers")).to_contain_text("viewer")
    screenshot(page, tmp_path, "dashboard")


def test_legacy(page: Page, legacy: str, tmp_path: Path) -> None:
    page.goto(f"{legacy}/")
    expect(page.locator("#state")).to_have_text("open")
    expect(page.locator("#messages li").first).to_contain_text("welcome, ")
    say(page, "#text", "hello from the page")
    expect(page.locator("#messages")).to_contain_text(": hello from the page")
    # Another client (plain HTTP here) says something with a carriage return: the page gets
    # it JSON-escaped on the event stream and shows it decoded.
    with httpx.Client(base_url=f"{legacy}/realtime", timeout=5) as http:
        session = http.post("/negotiate", json={}).json()
        sid, token = session["sid"], session["token"]
        token_header = {"x-realtime-token": token}
        assert http.get(f"/longpoll?sid={sid}&last=0&open=1", headers=token_header).is_success
        frames = ["d1:line one\r\nline two", "c1000:"]
        headers = {"content-type": "application/json", "x-realtime-token": token}
        answer = http.post(f"/longpoll?sid={sid}", content=json.dumps(frames), headers=headers)
        assert answer.status_code == 200
    expect(page.locator("#messages")).to_contain_text("line two")
    shown = page.locator("#messages li").last.evaluate("li => li.textContent")
    assert shown == f"{sid[:6]}: line one\r\nline two"
    wire = page.locator("#wire").inner_text()
    assert '↓ h{"ack":0,"token":"' in wire and "↑ d1:hello from the page" in wire
    assert "↑ a1" in wire, "the page acknowledges what it reads"
    screenshot(page, tmp_path, "legacy")


def test_fastapi_app(page: Page, fastapi_site: str, tmp_path: Path) -> None:
    page.goto(f"{fastapi_site}/?user=alice")
    expect(page.locator("#state")).to_have_text("open (websocket)")
    expect(page.locator("#log")).to_contain_text("welcome, alice")
    say(page, "#text", "hi all")
    expect(page.locator("#log li.message").last).to_have_text("alicehi all")
    say(page, "#notice", "the build is green")
    expect(page.locator("#log li.announcement").last).to_have_text(
        "alice announces:the build is green"
    )
    screenshot(page, tmp_path, "fastapi")


def test_fastapi_app_refuses_a_wrong_token(page: Page, fastapi_site: str) -> None:
    page.goto(f"{fastapi_site}/?user=mallory")
    expect(page.locator("#state")).to_have_text("closed (4007)")
    expect(page.locator("#log")).to_contain_text("unknown or missing token")


def test_tutorial(page: Page, tutorial: str, tmp_path: Path) -> None:
    page.goto(f"{tutorial}/")
    expect(page.locator("#transport")).to_have_text("websocket")
    say(page, "#text", "hello, tutorial")
    expect(page.locator("#messages li").last).to_have_text("hello, tutorial")
    screenshot(page, tmp_path, "tutorial")
