"""The JavaScript client as the Python package ships it: the built files in realtime/static
match a fresh build of client-js/src, the server serves them with ETags, and the client's
table of close codes and policies is the server's.

These run node (and esbuild from client-js/node_modules: ``npm ci`` in client-js first).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from starlette.testclient import TestClient

from realtime.protocol.frames import CLOSE_CODE_EXPLANATIONS, RECONNECT_POLICY, CloseCode
from tests.browser.app import make_app

ROOT = Path(__file__).parents[2]
CLIENT = ROOT / "client-js"
STATIC = ROOT / "realtime" / "static"
BUILDS = ["realtime.mjs", "realtime.min.js", "realtime.legacy.min.js"]


def node(*args: str) -> str:
    binary = shutil.which("node")
    assert binary is not None, "node is needed to build and check the JavaScript client"
    result = subprocess.run(
        [binary, *args], cwd=CLIENT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_committed_builds_match_the_sources(tmp_path: Path) -> None:
    node("scripts/build.mjs", str(tmp_path))
    for name in BUILDS:
        fresh = (tmp_path / name).read_bytes()
        assert (STATIC / name).read_bytes() == fresh, f"run `npm run build` in client-js: {name}"


def test_builds_are_served_with_etags() -> None:
    site, _ = make_app()
    with TestClient(site) as client:
        for path, name in [
            ("/realtime/client.js", "realtime.mjs"),
            ("/realtime/realtime.min.js", "realtime.min.js"),
            ("/realtime/realtime.legacy.min.js", "realtime.legacy.min.js"),
        ]:
            response = client.get(path)
            assert response.status_code == 200
            assert response.content == (STATIC / name).read_bytes()
            assert response.headers["content-type"].startswith("text/javascript")
            etag = response.headers["etag"]
            again = client.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_close_codes_and_policies_agree_with_the_server() -> None:
    script = (
        "Promise.all([import('./src/protocol.js'), import('./src/codes.js')]).then(([p, c]) =>"
        " console.log(JSON.stringify({codes: c.CloseCode, explanations: c.CLOSE_CODE_EXPLANATIONS,"
        " policies: p.RECONNECT_POLICY})))"
    )
    tables = json.loads(node("--input-type=module", "-e", script))
    assert tables["codes"] == {code.name: code.value for code in CloseCode}
    assert tables["explanations"] == {str(c): text for c, text in CLOSE_CODE_EXPLANATIONS.items()}
    assert tables["policies"] == {str(code): policy for code, policy in RECONNECT_POLICY.items()}
