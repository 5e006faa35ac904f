"""Behind a real reverse proxy: Debian's nginx, running the README's own server block, in front
of a real `shelf web` (waitress), as "Behind TLS on a LAN" sets them up.

Clients on the LAN are loopback addresses of their own (127.0.0.2, 127.0.0.3, ...): nginx
forwards for each, so the site must tell them apart, and must never take one for the gate's
own display, whatever Host it names.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ADMIN_PASSWORD

from bench.servers import Nginx, ShelfWeb, nginx_in_front, shelf_web
from kiosk.config import Config, load_config
from web import auth

FAILED = "用户名或密码不正确"
THROTTLED = "错误次数过多"


@dataclass
class Site:
    config: Config
    web: ShelfWeb
    front: Nginx

    def parcels(self) -> int:
        with contextlib.closing(sqlite3.connect(self.config.database)) as conn:
            return conn.execute("SELECT COUNT(*) FROM parcels").fetchone()[0]

    def notices(self) -> int:  # queued for sending
        with contextlib.closing(sqlite3.connect(self.config.database)) as conn:
            return conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


@contextlib.contextmanager
def site_behind_nginx(directory: Path, template: Path, web_settings: str) -> Iterator[Site]:
    """A copy of the sample community with ``web_settings`` in [web], served behind nginx."""
    shutil.copytree(template, directory / "community")
    path = directory / "community" / "config.toml"
    text = path.read_text(encoding="utf-8")
    text, found = re.subn(r'^trusted_proxy = "".*$', web_settings, text, count=1, flags=re.M)
    assert found, "the sample has no trusted_proxy line"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    with (shelf_web(path, directory / "web.log") as web,
          nginx_in_front(web.port, directory / "nginx") as front):
        yield Site(config, web, front)


@pytest.fixture(scope="module")
def site(tmp_path_factory, community_template) -> Iterator[Site]:
    """The README's setup: nginx on the Pi, `trusted_proxy = "127.0.0.1"` (and cookie_secure
    left false: HTTPS alone must make the cookie Secure)."""
    with site_behind_nginx(tmp_path_factory.mktemp("behind-nginx"), community_template,
                           'trusted_proxy = "127.0.0.1"') as served:
        yield served


def _lockout_clients(site: Site, admin_at: str) -> list[str]:
    """The addresses (or networks) the active lockouts name, as an admin at ``admin_at`` sees."""
    admin = site.front.visitor(admin_at)
    assert admin.sign_in("admin", ADMIN_PASSWORD).status == 302
    page = admin.get("/admin/lockouts?lang=en").text
    return re.findall(r'<tr class="active">.*?<td>[^<]*</td>\s*<td>.*?</td>\s*<td>([^<]+)</td>',
                      page, re.S)


def test_wrong_passwords_lock_out_the_lan_client_not_everyone(site):
    """Ten wrong admin passwords from one phone: that phone waits, the admin elsewhere does not,
    and the lockout names the phone (not the proxy, nor what the phone claimed to be)."""
    guesser = site.front.visitor("127.0.0.2")
    for n in range(auth.LOGIN_MAX_FAILURES):
        token = re.search(r'name="csrf_token" value="([^"]+)"', guesser.get("/login").text)[1]
        answer = guesser.request(
            "POST", "/login",
            body=f"csrf_token={token}&username=admin&password=guess{n}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Referer": "https://shelf.lan/login",
                     "X-Forwarded-For": "10.9.9.9"})  # nginx sets its own, never appends
        assert answer.status == 200 and FAILED in answer.text
    assert THROTTLED in guesser.sign_in("admin", ADMIN_PASSWORD).text

    named = _lockout_clients(site, "127.0.0.3")
    assert "127.0.0.2" in named and "127.0.0.1" not in named and "10.9.9.9" not in named


def test_the_gate_refuses_every_request_through_the_proxy_whatever_its_host(site):
    """A LAN client naming Host 127.0.0.1 through nginx reads nothing and checks nothing in."""
    parcels, notices = site.parcels(), site.notices()
    for host in ("127.0.0.1", "localhost", "127.0.0.1:8080"):
        client = site.front.visitor("127.0.0.4")
        same_site = {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin",
                     "Content-Type": "application/json"}
        for path in ("/gate", "/gate/state?after=0"):
            assert client.request("GET", path, headers={"Host": host}).status == 403, path
        for path, body in (("/gate/code", {"code": "123456"}),
                           ("/gate/room", {"code": "SF1400000002304", "room": "24-2304",
                                           "keep_room": True}),
                           ("/gate/fresh", {"parcel": 1})):
            answer = client.request("POST", path, body=json.dumps(body).encode(),
                                    headers=same_site)
            assert answer.status == 403 and json.loads(answer.text)["error"] == "not_the_gate"
    assert (site.parcels(), site.notices()) == (parcels, notices)  # no made-up waybill
    # The Pi's own display, straight to shelf web, is the gate.
    with urllib.request.urlopen(site.web.base + "/gate/state", timeout=30) as response:
        assert response.status == 200


def test_a_sign_in_from_another_site_through_https_is_refused(site):
    """nginx says the request came over HTTPS: the sign-in form then needs a same-site Referer
    (a cross-site form posting a sign-in is refused), and the cookie is Secure."""
    client = site.front.visitor("127.0.0.5")
    assert client.sign_in("admin", ADMIN_PASSWORD, referer="https://evil.example/").status == 400
    assert client.sign_in("admin", ADMIN_PASSWORD, referer=None).status == 400
    signed = client.sign_in("admin", ADMIN_PASSWORD)
    assert signed.status == 302
    [cookie] = signed.headers.get_all("Set-Cookie")
    assert "; Secure" in cookie and "HttpOnly" in cookie


def test_addresses_taken_in_turn_are_throttled_by_their_network(site):
    """Each address of a /24 guesses until its own limit: the network's stops them all, and the
    right password from a new address of that network waits too; another network does not."""
    per_address = auth.LOGIN_MAX_FAILURES
    for n in range(auth.NETWORK_MAX_FAILURES // per_address):
        guesser = site.front.visitor(f"127.0.7.{n + 1}")
        for guess in range(per_address):
            assert FAILED in guesser.sign_in("admin", f"guess {n} {guess}").text
    fresh = site.front.visitor("127.0.7.200")
    assert THROTTLED in fresh.sign_in("admin", ADMIN_PASSWORD).text
    assert site.front.visitor("127.0.8.1").sign_in("admin", ADMIN_PASSWORD).status == 302
    assert "127.0.7.0/24" in _lockout_clients(site, "127.0.9.1")


def test_the_gate_refuses_the_proxy_even_when_nobody_named_it(tmp_path, community_template):
    """No trusted_proxy (forgotten): the headers are not believed, yet still seen, so the gate
    refuses whoever came through nginx; throttles then key on the proxy, as the README warns."""
    with site_behind_nginx(tmp_path, community_template, 'trusted_proxy = ""') as untrusted:
        client = untrusted.front.visitor("127.0.0.6")
        assert client.request("GET", "/gate/state", headers={"Host": "127.0.0.1"}).status == 403
        answer = client.request("POST", "/gate/room", headers={
            "Host": "127.0.0.1", "Origin": "http://127.0.0.1", "Content-Type": "application/json"},
            body=b'{"code": "SF1400000002304", "room": "24-2304", "keep_room": true}')
        assert answer.status == 403 and untrusted.parcels() == 0


def test_the_setting_of_before_still_trusts_the_proxy_on_this_machine(tmp_path,
                                                                        community_template):
    """`trusted_proxies = 1`, as the README said before: read as trusted_proxy = "127.0.0.1"."""
    with site_behind_nginx(tmp_path, community_template,
                           "trusted_proxies = 1") as before:
        guesser = before.front.visitor("127.0.0.2")
        for n in range(auth.LOGIN_MAX_FAILURES):
            guesser.sign_in("admin", f"guess {n}")
        assert THROTTLED in guesser.sign_in("admin", ADMIN_PASSWORD).text
        named = _lockout_clients(before, "127.0.0.3")
        assert "127.0.0.2" in named and "127.0.0.1" not in named
        assert "write those instead" in before.web.log.read_text()
