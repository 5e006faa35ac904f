"""`shelf web` serves the staff site (waitress) as systemd starts it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from conftest import PATIENCE_S

from bench.servers import shelf_web


def get(url, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                timeout=PATIENCE_S) as r:
        return r.status, r.read().decode()


def test_shelf_web_serves_login_and_the_api(community, tmp_path):
    with shelf_web(community.path, tmp_path / "web.log") as web:
        status, page = get(f"{web.base}/login")
        assert status == 200 and "<form" in page
        try:
            get(f"{web.base}/api/slots")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        else:
            raise AssertionError("the API answered without a login")
        status, body = get(f"{web.base}/api/slots", community.web.api_tokens[0])
        assert status == 200 and len(json.loads(body)["slots"]) == 29  # 28 slots and the floor
