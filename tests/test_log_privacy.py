"""The log names no resident (issue 20): a day at the gate (check-ins by label and by a typed
room, refusals, a pickup), the notice worker sending by e-mail (a real SMTP catcher) and by SMS
through Apprise (a real local receiver), an observation change and the staff site, all logged
at DEBUG, every library's records too: no phone, e-mail address, name or whole household id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import check_in, pickup_code
from test_notices import MailServer
from test_notices_qr import http  # noqa: F401 (the real local HTTP receiver, as a fixture)
from test_notices_sms import by_sms
from test_web import AuthActions

from kiosk.notices.delivery import build_channels, deliver_due
from kiosk.observation import set_observation
from kiosk.services import Rules, act_on_carrier, act_on_code
from kiosk.store import SqliteUnitOfWork
from web import create_app

CHEN = "24-2304"  # Chen Jie 陈杰, 13800002304, an e-mail address: mailed
LIN = "13-1102"  # Lin, 13910256129, no e-mail address: a text message through Apprise
RESIDENTS = ("24-2304", "13-1102", "24-2403", "24-2340", "13800002304", "13910256129",
             "r24-2304@sample-garden.example", "Chen Jie", "陈杰", "Zhou Min", "周敏")


class Kept(logging.Handler):
    """The shelf's log as `shelf` writes it: a handler on the root logger alone (kiosk.app.cli's
    basicConfig), so a library's record is in it only if it reaches the root. (pytest's caplog
    also hooks itself onto every logger that does not propagate, Apprise's included: it would
    see what the shelf's log never does.)"""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def shelf_log() -> Iterator[Kept]:
    root, kept = logging.getLogger(), Kept()
    level = root.level
    root.addHandler(kept)
    root.setLevel(logging.DEBUG)  # Apprise's, urllib3's, Flask's records too, if they reach it
    try:
        yield kept
    finally:
        root.removeHandler(kept)
        root.setLevel(level)


def test_a_day_at_the_gate_logged_at_debug_names_no_resident(community, conn, clock, http,  # noqa: F811
                                                             shelf_log):
    config = by_sms(community, http, apprise=True)
    with MailServer() as mail:
        # E-mail first (Chen has an address), then the SMS (Lin has none).
        moved = (replace(c, options={**c.options, "host": "127.0.0.1", "port": mail.port})
                 if c.type == "email" else c for c in config.channels)
        config = replace(config, channels=tuple(sorted(moved, key=lambda c: c.type != "email")))
        uow, rules = SqliteUnitOfWork(conn), Rules.from_config(config)

        check_in(conn, config, clock, CHEN)  # the shelf's own label, read by the camera
        typed = act_on_carrier("SF1234567890", uow, rules, clock, room="13栋1102室",
                               phone_tail="6129", source="gate-keypad")
        assert typed.action == "checkin"
        for room in ("24-2340", "24-2403"):  # not in the list; easily confused with 24-2304
            refused = act_on_carrier("JD0001112223", uow, rules, clock, room=room,
                                     source="gate-keypad")
            assert refused.action == "rejected" and refused.given == room
        deliver_due(uow, build_channels(config.channels), clock,
                    timezone=config.community.timezone)
        assert act_on_code(pickup_code(conn, CHEN), uow, rules, clock).action == "pickup"
        set_observation("24-2403", True, uow, rules, clock, actor="li@web")
        deliver_due(uow, build_channels(config.channels), clock,
                    timezone=config.community.timezone)
        assert [m["To"] for m in mail.messages] == ["r24-2304@sample-garden.example"] * 2
    assert "13910256129" in http.requests[0].path  # Apprise posted the SMS to Lin's number

    site = create_app(config, clock=clock)
    client = site.test_client()
    assert AuthActions(client).login().status_code == 302
    assert client.post(f"/households/{CHEN}", data={"name": "x"}).status_code == 400  # no CSRF

    # The SMTP catcher is the compound's mail server here, not the shelf: its records go.
    logged = "\n".join(shelf_log.format(record) for record in shelf_log.records
                       if not record.name.startswith(("mail.log", "asyncio")))
    assert "24-23**" in logged and "13-11**" in logged  # the log does say what happened
    assert "POST /households/24-23** refused" in logged
    for private in RESIDENTS:
        assert private not in logged, private
