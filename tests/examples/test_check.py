"""``realtime check URL``: the verdicts without I/O, then the command against real servers
on each kind of network path of the browser tests: direct, nginx without WebSocket upgrades,
and a proxy that buffers event streams behind that nginx."""

from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import realtime
from realtime import RealtimeApp, Session, SessionClosed
from realtime.__main__ import main
from realtime.check import (
    Result,
    SSEProbe,
    endpoints,
    exit_status,
    explain_first_frame,
    explain_refusal,
    explain_unreachable,
    explain_upgrade_refusal,
    parse_header,
    summary,
)
from realtime.protocol.sse import encode_comment, encode_event, encode_retry
from realtime.types import TransportName
from tests.servers import free_port, nginx, uvicorn_server, wait_for_port

ROOT = Path(__file__).parents[2]

# -- Without I/O ---------------------------------------------------------------------------


def test_endpoints_of_a_mount_url() -> None:
    where = endpoints("https://user:pw@example.com:8443/app/realtime/?token=x")
    assert where.base == "https://user:pw@example.com:8443/app/realtime"
    assert where.websocket == "wss://user:pw@example.com:8443/app/realtime"
    assert where.origin == "https://example.com:8443"
    assert where.query == "token=x"
    assert endpoints("http://localhost/realtime").websocket == "ws://localhost/realtime"


@pytest.mark.parametrize("url", ["ftp://example.com/realtime", "example.com/realtime", "http://"])
def test_endpoints_refuse_what_is_not_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        endpoints(url)


def test_parse_header() -> None:
    assert parse_header("Authorization: Bearer a:b ") == ("Authorization", "Bearer a:b")
    for text in ("no colon", ": value"):
        with pytest.raises(ValueError, match="Name: value"):
            parse_header(text)


def test_explanations_of_refusals() -> None:
    refusal = json.dumps({"error": "origin not allowed", "code": 1008}).encode()
    assert explain_refusal(403, refusal) == (
        "refused (HTTP 403: origin not allowed, code 1008; "
        "does the proxy pass the Host header on (nginx: proxy_set_header Host)?)"
    )
    unauthorized = b'{"error": "authentication required", "code": 4007}'
    assert explain_refusal(401, unauthorized).endswith("; pass credentials with --header)")
    assert "is the URL the mount point" in explain_refusal(404, b"<html>", negotiation=True)
    assert "not the realtime app" in explain_refusal(405, b"Not Found")
    assert explain_refusal(502, b"<html>") == (
        "refused (HTTP 502: the proxy could not reach the server?)"
    )
    assert explain_refusal(418, b"") == "refused (HTTP 418)"
    assert "does not handle POST" in explain_refusal(501, b"<html>", negotiation=True)
    assert explain_upgrade_refusal(404) == (
        "upgrade refused (HTTP 404, a proxy dropped the Upgrade header?)"
    )
    assert "Origin" in explain_upgrade_refusal(403)
    assert explain_upgrade_refusal(500) == "upgrade refused (HTTP 500)"


def test_an_unknown_failure_is_told_as_it_is() -> None:
    assert explain_unreachable(OSError("no route"), "http://x/realtime") == (
        "cannot connect (no route)"
    )


def test_explanations_of_first_frames() -> None:
    assert explain_first_frame('h{"ack":0}') is None
    assert explain_first_frame("c4003:wrong token") == "session refused (code 4003: wrong token)"
    assert explain_first_frame("r4002") == "connection refused (code 4002)"
    assert explain_first_frame("d1:hi") == "protocol error (first frame 'd1:hi', not a hello)"


def test_sse_probe_finds_the_hello_in_pieces() -> None:
    stream = encode_comment(" " * 2048) + encode_retry(1000) + encode_event('h{"ack":3}')
    probe = SSEProbe()
    pieces = [stream[i : i + 100] for i in range(0, len(stream), 100)]
    assert [probe.feed(piece) for piece in pieces][-2:] == [False, True]
    assert probe.first == 'h{"ack":3}'
    assert probe.verdict(3, ended=False) == "ok"


def test_sse_probe_verdicts() -> None:
    probe = SSEProbe()
    assert probe.verdict(3, ended=False) == (
        "stream buffered (headers arrived, no data within 3 s)"
    )
    probe.feed(encode_comment(" " * 2048))
    assert probe.verdict(0.5, ended=False) == (
        "stream buffered (headers and 2051 bytes arrived, no hello within 0.5 s)"
    )
    assert probe.verdict(0.5, ended=True) == "stream ended before the hello (2051 bytes)"
    refused = SSEProbe()
    assert refused.feed(encode_event("c4003:wrong\rtoken"))  # sent JSON-escaped
    assert refused.verdict(3, ended=True) == "session refused (code 4003: wrong\rtoken)"


def test_summary_and_exit_status() -> None:
    negotiated = Result("negotiate", True, "...", ("sse", "websocket", "longpoll"))
    results = [
        negotiated,
        Result("websocket", True, "hello in 2 ms"),
        Result("sse", True, "hello in 3 ms"),
        Result("longpoll", False, "not offered by the server"),
    ]
    assert summary(results) == "2 of 3 transports work: clients will use sse"
    assert exit_status(results) == 0
    failed = [negotiated, Result("sse", False, "stream buffered")]
    assert summary(failed) == "none of 1 transports works"
    assert exit_status(failed) == 1
    assert exit_status([Result("negotiate", False, "refused (HTTP 401)")]) == 1
    assert summary([]) == "no transport checked: clients cannot connect"
    assert str(results[1]) == "websocket: ok (hello in 2 ms)"
    assert str(results[3]) == "longpoll: not offered by the server"


# -- Against real servers ------------------------------------------------------------------

integration = pytest.mark.integration


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, str]]:
    """``realtime check ARGS``: its exit status and its lines, by step name."""
    with pytest.raises(SystemExit) as exited:
        main(["check", *args])
    lines = capsys.readouterr().out.splitlines()
    steps = dict(line.split(": ", 1) for line in lines[:-1] if ": " in line)
    steps["summary"] = lines[-1]
    assert isinstance(exited.value.code, int)
    return exited.value.code, steps


@integration
def test_direct_every_transport_works(capsys: pytest.CaptureFixture[str], server: str) -> None:
    status, steps = run_check(capsys, f"{server}/realtime")
    assert status == 0
    assert steps["negotiate"].startswith("ok (HTTP 200 in ")
    assert steps["negotiate"].endswith("; offers websocket, sse, longpoll)")
    for transport in ("websocket", "sse", "longpoll"):
        assert steps[transport].startswith("ok (hello in "), steps
    assert steps["summary"] == "3 of 3 transports work: clients will use websocket"


@integration
def test_nginx_without_upgrade_headers(
    capsys: pytest.CaptureFixture[str], proxies: dict[str, str]
) -> None:
    status, steps = run_check(capsys, f"{proxies['plain']}/realtime")
    assert status == 0
    assert steps["websocket"] == "upgrade refused (HTTP 426, a proxy dropped the Upgrade header?)"
    assert steps["sse"].startswith("ok (hello in ")
    assert steps["longpoll"].startswith("ok (hello in ")
    assert steps["summary"] == "2 of 3 transports work: clients will use sse"


@pytest.fixture(scope="module")
def documented_nginx(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx configured as docs/how-to/nginx.md says, in front of the test server."""
    page = (ROOT / "docs" / "how-to" / "nginx.md").read_text()
    (config,) = re.findall(r"```nginx\n(.*?)```", page, flags=re.DOTALL)
    config = re.sub(r"map \$http_upgrade .*?\n}\n", "", config, flags=re.DOTALL)  # in the prelude
    port = free_port()
    assert "server 127.0.0.1:8000;" in config and "listen 80;" in config
    config = config.replace("server 127.0.0.1:8000;", f"server {server.removeprefix('http://')};")
    config = config.replace("listen 80;", f"listen 127.0.0.1:{port};")
    with nginx(config, tmp_path_factory.mktemp("nginx")):
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"


@integration
def test_nginx_as_the_docs_configure_it(
    capsys: pytest.CaptureFixture[str], documented_nginx: str
) -> None:
    status, steps = run_check(capsys, f"{documented_nginx}/realtime")
    assert status == 0
    for transport in ("websocket", "sse", "longpoll"):
        assert steps[transport].startswith("ok (hello in "), steps


@integration
def test_a_proxy_that_buffers_event_streams(
    capsys: pytest.CaptureFixture[str], proxies: dict[str, str]
) -> None:
    status, steps = run_check(capsys, f"{proxies['buffering']}/realtime", "--timeout", "0.5")
    assert status == 0
    assert steps["websocket"].startswith("upgrade refused (HTTP 426")
    assert steps["sse"] == "stream buffered (headers arrived, no data within 0.5 s)"
    assert steps["longpoll"].startswith("ok (hello in ")
    assert steps["summary"] == "1 of 3 transports work: clients will use longpoll"


@integration
def test_authentication_headers(capsys: pytest.CaptureFixture[str], fastapi_site: str) -> None:
    status, steps = run_check(capsys, f"{fastapi_site}/realtime", "--transport", "longpoll")
    assert status == 1
    assert steps == {
        "negotiate": "refused (HTTP 401: unknown or missing token, code 4007; "
        "pass credentials with --header)",
        "summary": "no transport checked: clients cannot connect",
    }
    bearer = "Authorization: Bearer alice-token"
    status, steps = run_check(capsys, f"{fastapi_site}/realtime", "-H", bearer)
    assert status == 0 and steps["summary"].startswith("3 of 3 transports work")


@integration
def test_a_foreign_origin_is_refused(capsys: pytest.CaptureFixture[str], server: str) -> None:
    status, steps = run_check(capsys, f"{server}/realtime", "--origin", "https://elsewhere.test")
    assert status == 1
    assert steps["negotiate"].startswith(
        "refused (HTTP 403: origin 'https://elsewhere.test' is neither this app's (http://"
    )
    assert run_check(capsys, f"{server}/realtime", "--no-origin")[0] == 0


@pytest.fixture(scope="module", params=[("longpoll",), ("websocket",)], ids=["lp", "ws"])
def recording_server(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[str, tuple[TransportName, ...], list[int]]]:
    """A server offering one transport; its handler records how each session ended."""
    ends: list[int] = []

    async def handler(session: Session) -> None:
        try:
            await session.receive()
        except SessionClosed as closed:
            ends.append(closed.code)
            raise

    transports: tuple[TransportName, ...] = request.param
    realtime = RealtimeApp(handler, transports=transports)
    with uvicorn_server(realtime) as base:
        yield base, transports, ends


@integration
def test_what_is_not_offered_and_the_session_is_closed_after(
    capsys: pytest.CaptureFixture[str],
    recording_server: tuple[str, tuple[TransportName, ...], list[int]],
) -> None:
    base, (offered,), ends = recording_server
    status, steps = run_check(capsys, base)
    assert status == 0
    assert steps[offered].startswith("ok (hello in ")
    others = {"websocket", "sse", "longpoll"} - {offered}
    assert {steps[name] for name in others} == {"not offered by the server"}
    assert steps["summary"] == f"1 of 3 transports work: clients will use {offered}"
    deadline = time.monotonic() + 5
    while not ends and time.monotonic() < deadline:  # the close travels to the handler
        time.sleep(0.01)
    assert ends == [1000], "the check closes its session"


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    usage = (
        ["ftp://example.com"],
        ["http://127.0.0.1:9/realtime", "-H", "no colon"],
        ["http://127.0.0.1:9/realtime", "--timeout", "0"],
    )
    for args in usage:
        with pytest.raises(SystemExit) as exited:
            main(["check", *args])
        assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


# -- The command line itself, and the hints for servers that cannot be reached -------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"realtime {realtime.__version__} (Python 3.")


@pytest.mark.parametrize("args", [[], ["check"], ["demo"]], ids=["main", "check", "demo"])
def test_help_is_plain_text(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: realtime")
    for markup in ("``", ":mod:", ":class:", "::\n"):
        assert markup not in text, f"reStructuredText in --help: {markup!r}"
    if args != ["demo"]:
        assert "examples:\n  realtime " in text


@integration
def test_nothing_listens(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    status, steps = run_check(capsys, f"http://127.0.0.1:{port}/realtime")
    assert status == 1
    assert steps["negotiate"] == (
        f"cannot connect (connection refused: nothing listens on 127.0.0.1:{port}; "
        "is the server running, on this port?)"
    )


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    """Python's http.server, which answers a POST with 501."""
    handler = functools.partial(QuietFiles, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@integration
def test_a_static_file_server(capsys: pytest.CaptureFixture[str], file_server: str) -> None:
    status, steps = run_check(capsys, f"{file_server}/realtime")
    assert status == 1
    assert steps["negotiate"] == (
        "refused (HTTP 501: the server does not handle POST; "
        "a static file server rather than the realtime app?)"
    )


@integration
def test_https_to_a_plain_http_server(capsys: pytest.CaptureFixture[str], server: str) -> None:
    where = server.removeprefix("http://")
    status, steps = run_check(capsys, f"https://{where}/realtime")
    assert status == 1
    assert steps["negotiate"] == (
        f"cannot connect (no TLS on the other side: a plain HTTP server? "
        f"try http://{where}/realtime)"
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture(scope="module")
def tls_server(certificate: tuple[Path, Path]) -> Iterator[str]:
    """A realtime app served by uvicorn over TLS; yields ``127.0.0.1:PORT``."""

    async def handler(session: Session) -> None:
        await session.receive()

    cert, key = certificate
    app = RealtimeApp(handler)
    with uvicorn_server(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as base:
        yield base.removeprefix("http://")


@integration
def test_plain_http_to_a_tls_server(capsys: pytest.CaptureFixture[str], tls_server: str) -> None:
    status, steps = run_check(capsys, f"http://{tls_server}")
    assert status == 1
    assert steps["negotiate"] == (
        "no answer (the server closed the connection without answering: "
        f"does it expect TLS? try https://{tls_server})"
    )


@integration
def test_an_untrusted_certificate_then_trusted(
    capsys: pytest.CaptureFixture[str],
    tls_server: str,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, steps = run_check(capsys, f"https://{tls_server}")
    assert status == 1
    assert steps["negotiate"] == (
        "cannot connect (TLS certificate not trusted: self-signed certificate; a private CA? "
        "point SSL_CERT_FILE at its certificate)"
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # as the hint says
    status, steps = run_check(capsys, f"https://{tls_server}")
    assert status == 0
    assert steps["summary"] == "3 of 3 transports work: clients will use websocket"
