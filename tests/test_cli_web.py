"""`shelf web` serves the staff site (waitress) as systemd starts it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

from conftest import PATIENCE_S, wait_until_serving

from kiosk.app.sim.mailcatcher import free_port


def get(url, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                timeout=PATIENCE_S) as r:
        return r.status, r.read().decode()


def test_shelf_web_serves_login_and_the_api(community):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config", str(community.path),
                               "web", "--port", str(port)], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/login", server)
        status, page = get(f"{base}/login")
        assert status == 200 and "<form" in page
        try:
            get(f"{base}/api/slots")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        else:
            raise AssertionError("the API answered without a login")
        status, body = get(f"{base}/api/slots", community.web.api_tokens[0])
        assert status == 200 and len(json.loads(body)["slots"]) == 29  # 28 slots and the floor
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=PATIENCE_S)
