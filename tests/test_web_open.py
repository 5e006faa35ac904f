"""The site in the open: localhost unless told, Secure cookies behind TLS, a reverse proxy's
headers believed only when configured, and a taken port said in one line."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

from conftest import ADMIN_PASSWORD, make_app

from kiosk.app.cli import build_parser
from kiosk.config import load_config
from web import auth

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def configured(community, **settings: str):
    """The community with ``[web]`` keys set as an operator would write them."""
    text = community.path.read_text(encoding="utf-8")
    for key, value in settings.items():
        text, found = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
        assert found, f"the sample has no {key}"
    community.path.write_text(text, encoding="utf-8")
    return load_config(community.path)


def sign_in(client, password: str = ADMIN_PASSWORD, **request: object):
    token = CSRF_RE.search(client.get("/login", **request).text)[1]
    return client.post("/login", data={"csrf_token": token, "username": "admin",
                                       "password": password}, **request)


def test_the_site_listens_on_this_machine_unless_told():
    assert build_parser().parse_args(["web"]).host == "127.0.0.1"
    assert build_parser().parse_args(["web", "--host", "0.0.0.0"]).host == "0.0.0.0"


def test_cookies_are_secure_when_configured(community, clock):
    plain = sign_in(make_app(community, clock).test_client())
    assert plain.status_code == 302 and "Secure" not in plain.headers["Set-Cookie"]
    secure = make_app(configured(community, cookie_secure="true"), clock)
    assert secure.config["REMEMBER_COOKIE_SECURE"] is True
    signed = sign_in(secure.test_client(), base_url="https://shelf.example",
                     headers={"Referer": "https://shelf.example/login"})
    assert signed.status_code == 302
    assert "; Secure" in signed.headers["Set-Cookie"] and "HttpOnly" in signed.headers["Set-Cookie"]


def _locked_client(app, **request: object) -> str:
    """Guess wrong until locked; the address the lockout names."""
    client = app.test_client()
    for n in range(auth.LOGIN_MAX_FAILURES):
        sign_in(client, f"guess {n}", **request)
    rows = app.test_client()
    sign_in(rows, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    page = rows.get("/admin/lockouts?lang=en").text
    return re.search(r'<tr class="active">.*?<td>admin</td>\s*<td>([^<]+)</td>', page, re.S)[1]


def test_forwarded_addresses_are_believed_only_behind_a_configured_proxy(community, clock):
    forwarded = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"},
                 "headers": {"X-Forwarded-For": "192.0.2.44"}}
    assert _locked_client(make_app(community, clock), **forwarded) == "127.0.0.1"
    behind = make_app(configured(community, trusted_proxies="1"), clock)
    assert _locked_client(behind, **forwarded) == "192.0.2.44"


def test_behind_a_tls_proxy_a_form_needs_a_same_site_referer(community, clock):
    app = make_app(configured(community, trusted_proxies="1", cookie_secure="true"), clock)
    proxied = {"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Proto": "https"}
    client = app.test_client()
    assert sign_in(client, headers=proxied).status_code == 400  # no Referer: refused
    good = sign_in(client, headers={**proxied, "Referer": "https://localhost/login"})
    assert good.status_code == 302 and good.location == "/"


def test_a_taken_port_is_said_in_one_line(community):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        done = subprocess.run([sys.executable, "-m", "kiosk.app", "--config",
                               str(community.path), "web", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if " WARNING " not in line]
    assert errors == [f"shelf: error: port {port} on 127.0.0.1 is taken (another shelf web?): "
                      "stop that, or pick another port with --port"], done.stderr
