"""The site in the open: localhost unless told, Secure cookies over HTTPS, a reverse proxy's
headers believed by waitress only from the configured proxy, no framing, and a taken port
said in one line."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

from conftest import ADMIN_PASSWORD, make_app

from kiosk.app.cli import build_parser
from kiosk.config import load_config
from web import auth
from web.serving import waitress_options

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


def test_cookies_are_secure_over_https_or_when_configured(community, clock):
    """Over HTTPS (waitress sets the scheme from a trusted proxy's X-Forwarded-Proto) the cookie
    is Secure whatever the config; over plain HTTP, only with [web] cookie_secure."""
    https = {"base_url": "https://shelf.example",
             "headers": {"Referer": "https://shelf.example/login"}}
    plain = sign_in(make_app(community, clock).test_client())
    assert plain.status_code == 302 and "Secure" not in plain.headers["Set-Cookie"]
    over_https = sign_in(make_app(community, clock).test_client(), **https)
    assert over_https.status_code == 302 and "; Secure" in over_https.headers["Set-Cookie"]
    secure = make_app(configured(community, cookie_secure="true"), clock)
    assert secure.config["REMEMBER_COOKIE_SECURE"] is True
    for signed in (sign_in(secure.test_client()), sign_in(secure.test_client(), **https)):
        assert signed.status_code == 302
        assert "; Secure" in signed.headers["Set-Cookie"]
        assert "HttpOnly" in signed.headers["Set-Cookie"]


def _locked_client(app, **request: object) -> str:
    """Guess wrong until locked; the address the lockout names."""
    client = app.test_client()
    for n in range(auth.LOGIN_MAX_FAILURES):
        sign_in(client, f"guess {n}", **request)
    rows = app.test_client()
    sign_in(rows, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    page = rows.get("/admin/lockouts?lang=en").text
    return re.search(r'<tr class="active">.*?<td>admin</td>\s*<td>([^<]+)</td>', page, re.S)[1]


def test_the_app_believes_no_forwarded_address_of_its_own_accord(community, clock):
    """Only waitress reads X-Forwarded-For, and only from [web] trusted_proxy (web/serving.py;
    tests/test_proxy.py: through a real nginx): the app takes the address it is given."""
    forwarded = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"},
                 "headers": {"X-Forwarded-For": "192.0.2.44", "X-Forwarded-Proto": "https"}}
    behind = make_app(configured(community, trusted_proxy='"127.0.0.1"'), clock)
    assert _locked_client(behind, **forwarded) == "127.0.0.1"


def test_waitress_believes_the_configured_proxy_alone(community):
    assert "trusted_proxy" not in waitress_options(community.web)
    config = configured(community, trusted_proxy='"::1"\ntrusted_proxy_count = 2\n'
                        'trusted_proxy_headers = ["Forwarded"]')
    options = waitress_options(config.web)
    assert (options["trusted_proxy"], options["trusted_proxy_count"],
            options["trusted_proxy_headers"]) == ("::1", 2, {"forwarded"})
    assert options["clear_untrusted_proxy_headers"] is False  # the gate sees them all


def test_over_https_a_form_needs_a_same_site_referer(community, clock):
    """Flask-WTF's strict check, once the scheme says HTTPS: a cross-site sign-in is refused."""
    client = make_app(community, clock).test_client()
    https = {"base_url": "https://localhost"}
    assert sign_in(client, **https).status_code == 400  # no Referer: refused
    evil = sign_in(client, headers={"Referer": "https://evil.example/login"}, **https)
    assert evil.status_code == 400
    good = sign_in(client, headers={"Referer": "https://localhost/login"}, **https)
    assert good.status_code == 302 and good.location == "/"


def test_no_page_may_be_framed(client):
    for path in ("/login", "/gate"):
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


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
