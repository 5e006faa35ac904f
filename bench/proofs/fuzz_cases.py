"""Fuzzing the shelf's entries with hypothesis: labels, scans on a real store, typed codes, forms.

Run by ``bench.proofs.fuzz`` under pytest (``pytest bench/proofs/fuzz_cases.py``); never
collected by ``make test`` (its testpaths are ``tests/``). Each property runs ``EXAMPLES``
examples (10,000 unless ``SHELF_FUZZ_EXAMPLES`` says otherwise, for a quick try).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.community import ADMIN_PASSWORD, CHEAP_HASHER, sample_community
from bench.proofs.invariants import broken_rules
from kiosk.clock import ManualClock
from kiosk.community import open_store
from kiosk.domain import HouseholdId
from kiosk.errors import ForgedLabel, GarbageLabel, ShelfError
from kiosk.labels import (
    LEGACY_PASS_PREFIX,
    REF_RE,
    ParcelLabel,
    PickupPass,
    _mac,
    make_label,
    make_pass,
    parse_payload,
)
from kiosk.passwords import hash_password
from kiosk.services import Rules, act_on_code, act_on_payload, keypad_now
from kiosk.store import SqliteUnitOfWork

EXAMPLES = int(os.environ.get("SHELF_FUZZ_EXAMPLES", "10000"))
TALLY_FILE = os.environ.get("SHELF_FUZZ_TALLY")  # where to write what the examples ended in
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SECRET = b"a label secret of the fuzzing community"
# Refusals a scan or a typed code may end in; "internal" (an unforeseen failure) is a bug,
# and "store_unavailable" cannot happen here: nothing else has the store open.
# Every refusal a scanned payload or a typed code may meet on a real store (kiosk/errors.py):
# a pass whose code opened its slots already, or an old (DP1) pass whose code was drawn again.
REFUSALS = {"garbage", "forged", "unknown_household", "already_collected", "unknown_code",
            "throttled", "room_required", "pass_used", "pass_outdated"}


TALLY: defaultdict[str, Counter[str]] = defaultdict(Counter)


def tally(test: str, what: str) -> None:
    """Count what an example ended in: the proof's line says what the fuzzing reached."""
    TALLY[test][what] += 1


@pytest.fixture(scope="module", autouse=True)
def _write_tally():
    yield
    if TALLY_FILE:
        with open(TALLY_FILE, "w", encoding="utf-8") as out:
            json.dump(TALLY, out, indent=2)


STEPS = st.sampled_from([0, 1, 30, 240, 1000])  # seconds between two actions
PICKS = st.integers(0, 2**16)  # which of the store's households or codes an example takes


# -- payloads ------------------------------------------------------------------------------

refs = st.from_regex(REF_RE, fullmatch=True)
codes = st.from_regex(r"\A[0-9]{6}\Z")


def households(ids: list[str] | None = None) -> st.SearchStrategy[HouseholdId]:
    """Households of the community (``ids``), or any well-formed one when None."""
    if ids:
        return st.sampled_from(ids).map(HouseholdId.parse)
    # Rooms as the household list keeps them: no leading zero (a room is never "0").
    return st.builds(HouseholdId, st.integers(0, 999),
                     st.from_regex(r"\A[1-9A-Z][0-9A-Z]{0,5}\Z"))


def labels(secret: bytes, ids: list[str] | None = None) -> st.SearchStrategy[str]:
    return st.builds(lambda h, r: make_label(secret, h, r), households(ids), refs)


def passes(secret: bytes) -> st.SearchStrategy[str]:
    """Pickup passes as mailed (DP2: bound to a household and a code row) and as once (DP1)."""
    bound = st.builds(lambda h, i, c: make_pass(secret, str(h), i, c), households(),
                      st.integers(1, 10**12 - 1), codes)
    return st.one_of(bound, codes.map(lambda c: legacy_pass(secret, c)))


def legacy_pass(secret: bytes, code: str) -> str:
    """A pass of the first format, which signed the code alone (some are still in mailboxes)."""
    body = f"{LEGACY_PASS_PREFIX}:{code}"
    return f"{body}:{_mac(secret, body)}"


@st.composite
def mutated(draw: st.DrawFn, originals: st.SearchStrategy[str]) -> bytes:
    """A valid payload with a few bytes flipped, added, dropped, cut, re-cased or padded."""
    data = bytearray(draw(originals).encode("ascii"))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "case", "pad", "swap"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[at]
        elif op == "cut":
            del data[at:]
        elif op == "case":
            data = bytearray(bytes(data).swapcase())  # ASCII letters only, as a misread would
        elif op == "pad":
            pad = draw(st.sampled_from([b" ", b"\t", b"\n", b"\r\n", b"\x00", b"\xef\xbb\xbf"]))
            data = bytearray(pad + data if draw(st.booleans()) else data + pad)
        elif op == "swap" and len(data) > 1:
            other = draw(st.integers(0, len(data) - 1))
            data[at], data[other] = data[other], data[at]
    return bytes(data)


shelf_prefixed = st.builds(lambda p, rest: p + rest, st.sampled_from([b"DS1:", b"DP1:", b"DP2:"]),
                           st.binary(max_size=120))


def assert_genuine(result: ParcelLabel | PickupPass, secret: bytes) -> None:
    """A parse result must be exactly what the signer would have printed."""
    if isinstance(result, ParcelLabel):
        # Signed as printed (an old printout may spell the room 02304), read canonically.
        body, mac = result.payload.rsplit(":", 1)
        assert _mac(secret, body) == mac
        _, household, ref = body.split(":")
        assert (HouseholdId.parse(household), ref) == (result.household, result.ref)
    else:
        assert isinstance(result, PickupPass)
        if result.code_id is None:  # DP1: its MAC was checked when parsed
            assert legacy_pass(secret, result.code) == result.payload
        else:  # DP2: its MAC is checked against its code row's household, so: well-formed
            assert result.payload == f"DP2:{result.code_id}:{result.code}:{result.mac}"


def parse_or_refuse(test: str, data: bytes) -> None:
    try:
        result = parse_payload(data, SECRET)
    except (GarbageLabel, ForgedLabel) as refused:
        tally(test, refused.code)
        return
    assert_genuine(result, SECRET)
    tally(test, type(result).__name__)


def test_parse_payload_of_arbitrary_bytes() -> None:
    @FUZZ
    @given(st.one_of(st.binary(max_size=200), shelf_prefixed))
    def prop(data: bytes) -> None:
        parse_or_refuse("parse_payload(bytes)", data)

    prop()


def test_parse_payload_of_damaged_labels_and_passes() -> None:
    @FUZZ
    @given(mutated(st.one_of(labels(SECRET), passes(SECRET),
                             labels(b"another community's secret"))))
    def prop(data: bytes) -> None:
        parse_or_refuse("parse_payload(damaged)", data)

    prop()


# -- the use cases on a real store --------------------------------------------------------

class Shelf:
    """A real community store and what the examples need to act on it."""

    def __init__(self, directory) -> None:
        self.config = sample_community(directory, real_hash=False)
        self.conn = open_store(self.config)
        self.uow = SqliteUnitOfWork(self.conn)
        self.rules = Rules.from_config(self.config)
        self.clock = ManualClock()  # the examples move it by the steps they draw
        rows = self.conn.execute("SELECT id, under_observation FROM households ORDER BY id")
        rows = rows.fetchall()
        self.households = [r["id"] for r in rows]
        self.collectors = [r["id"] for r in rows if not r["under_observation"]]

    def active_codes(self) -> list[str]:
        """Codes that open waiting parcels now."""
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT c.code FROM pickup_codes c JOIN parcels p ON p.pickup_code_id = c.id"
            " WHERE c.used_at IS NULL AND p.status = 'waiting' ORDER BY c.code")]

    def active_code(self, who: int, which: int) -> str:
        """One of the active codes (``which`` picks); a parcel is checked in when there is none.

        Examples draw plain numbers and pick with them, so that what they draw never depends
        on the store (hypothesis replays draws, not the store).
        """
        active = self.active_codes()
        if not active:
            self.check_in(self.collectors[who % len(self.collectors)])
            active = self.active_codes()
        return active[which % len(active)]

    def active_pass(self, who: int, which: int) -> str:
        """The mailed pickup QR of one of the active codes."""
        code = self.active_code(who, which)
        row = self.conn.execute("SELECT id, household_id FROM pickup_codes"
                                " WHERE code = ? AND used_at IS NULL", (code,)).fetchone()
        return make_pass(self.config.label_secret, row[1], row[0], code)

    def check_in(self, household: str) -> None:
        label = make_label(self.config.label_secret, HouseholdId.parse(household))
        outcome = act_on_payload(label.encode(), self.uow, self.rules, self.clock)
        assert outcome.action == "checkin", outcome

    def waiting_label(self, label: str) -> bool:
        return self.conn.execute("SELECT 1 FROM parcels WHERE label = ? AND status = 'waiting'",
                                 (label,)).fetchone() is not None

    def collected(self, ids: tuple[int, ...]) -> bool:
        marks = ",".join("?" * len(ids))
        return self.conn.execute(f"SELECT COUNT(*) FROM parcels WHERE id IN ({marks})"
                                 " AND status = 'collected'", ids).fetchone()[0] == len(ids)


@pytest.fixture
def shelf(tmp_path):
    shelf = Shelf(tmp_path / "community")
    yield shelf
    assert broken_rules(shelf.conn) == []  # the store stays whole, whatever was thrown at it
    shelf.conn.close()


def assert_sound(test: str, outcome, shelf: Shelf) -> None:
    tally(test, outcome.error or outcome.action)
    # needs_room: a payload shaped like a carrier's tracking number, nobody announced it
    assert outcome.action in ("checkin", "pickup", "rejected", "needs_room"), outcome
    if outcome.action == "rejected":
        assert outcome.error in REFUSALS, outcome
    if outcome.action == "pickup":
        assert outcome.parcels and shelf.collected(outcome.parcels), outcome


def test_act_on_payload_on_a_real_store(shelf: Shelf) -> None:
    secret = shelf.config.label_secret
    known = labels(secret, shelf.households)
    payload = st.one_of(
        known.map(str.encode), labels(secret).map(str.encode), passes(secret).map(str.encode),
        mutated(st.one_of(known, passes(secret))), st.binary(max_size=120), shelf_prefixed,
        st.just("active pass"),
    )

    @FUZZ
    @given(payload, STEPS, st.sampled_from(["camera", "keypad", "web"]), PICKS, PICKS)
    def prop(data: bytes | str, step: int, source: str, who: int, which: int) -> None:
        shelf.clock.advance(step)
        if data == "active pass":  # the pickup QR of a code that opens parcels now
            data = shelf.active_pass(who, which).encode()
        outcome = act_on_payload(data, shelf.uow, shelf.rules, shelf.clock, source=source)
        assert_sound("act_on_payload", outcome, shelf)
        if outcome.action == "checkin":
            assert shelf.waiting_label(data.decode("ascii").strip()), outcome

    prop()


def test_typed_pickup_codes(shelf: Shelf) -> None:
    typed = st.one_of(st.text(max_size=12), st.from_regex(r"\A\s*[0-9]{1,8}\s*\Z"),
                      st.just("active"))

    pads = st.sampled_from(["", " ", "\t", "\u3000"])
    # The building-room typed with the code: none, the code's own (as typed at a keypad), a
    # neighbour's, or anything at all.
    rooms = st.one_of(st.none(), st.just("own"), st.sampled_from(["24-2403", "2-902"]),
                      st.text(max_size=12))

    @FUZZ
    @given(typed, STEPS, st.sampled_from(["keypad", "web"]), st.booleans(), PICKS, PICKS,
           pads, pads, rooms)
    def prop(code: str, step: int, source: str, deliver: bool, who: int, which: int,
             before: str, after: str, room: str | None) -> None:
        shelf.clock.advance(step)
        if deliver:  # a courier comes by, so there are codes worth typing
            shelf.check_in(shelf.collectors[who % len(shelf.collectors)])
        if code == "active":
            code = before + shelf.active_code(who, which) + after
        with shelf.uow:  # what the shelf should answer, asked before it is asked
            keypad = keypad_now(shelf.uow, shelf.rules, source, shelf.clock.now())
            found = shelf.uow.codes.find_active(code.strip())
            if room == "own":
                room = f" 0{found.household_id} " if found else "24-2304"
            if found and room and room.strip() and _household(room) != found.household_id:
                found = None
            opens = found and [p.id for p in shelf.uow.parcels.waiting_for(found.household_id)]
        outcome = act_on_code(code, shelf.uow, shelf.rules, shelf.clock, source=source,
                              room=room)
        assert_sound("act_on_code", outcome, shelf)
        if keypad.wait_s:
            assert outcome.error == "throttled", outcome
        elif keypad.room_required and not (room and room.strip()):
            assert outcome.error == "room_required", outcome
        elif opens:
            assert outcome.action == "pickup" and list(outcome.parcels) == opens, outcome
        else:
            assert outcome.error == "unknown_code", outcome

    prop()


def _household(room: str) -> str | None:
    """The household a typed building-room names, or None."""
    try:
        return str(HouseholdId.parse(room))
    except ShelfError:
        return None


# -- the web forms -------------------------------------------------------------------------

class Site:
    def __init__(self, directory, monkeypatch: pytest.MonkeyPatch) -> None:
        import kiosk.passwords
        import web.auth
        from web import create_app

        # Unknown usernames are checked against a decoy hash of full cost (60-200 ms here);
        # a cheap one keeps 10,000 examples within minutes and changes no path through the code.
        cheap = hash_password("decoy", hasher=CHEAP_HASHER)
        for module in (web.auth, kiosk.passwords):
            monkeypatch.setattr(module, "decoy_hash", lambda: cheap)
        self.config = sample_community(directory, real_hash=False)
        self.clock = ManualClock()  # the examples move it by the steps they draw
        self.app = create_app(self.config, clock=self.clock)
        self.anonymous = self.app.test_client()
        self.staff = self.app.test_client()
        self.sign_in(self.staff)

    def csrf(self, client) -> str:
        """The form's token (Flask-WTF signs the session's: the form carries the signed one)."""
        page = client.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def sign_in(self, client) -> None:
        response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                               "csrf_token": self.csrf(client)})
        assert response.status_code == 302, response.status


@pytest.fixture
def site(tmp_path, monkeypatch):
    return Site(tmp_path / "community", monkeypatch)


def assert_stays_on_site(response) -> None:
    """A redirect never leaves the site, as a browser would read its Location."""
    location = response.headers.get("Location", "")
    # Browsers drop tabs and newlines anywhere and leading spaces and controls.
    seen = re.sub(r"[\t\n\r]", "", location).lstrip("".join(map(chr, range(33))))
    parts = urlsplit(seen.replace("\\", "/"))
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), location


def test_login_form(site: Site) -> None:
    usernames = st.one_of(st.text(max_size=40), st.sampled_from(["admin", "ADMIN", " admin "]))
    passwords = st.one_of(st.text(max_size=40), st.just(ADMIN_PASSWORD))
    nexts = st.one_of(st.none(), st.text(max_size=60), st.sampled_from(
        ["/", "//evil.example/", "/\\evil.example", "/\t/evil.example", "https://evil.example/",
         "/api/slots", "javascript:alert(1)"]))

    @FUZZ
    @given(usernames, passwords, nexts, st.booleans(), st.booleans(), STEPS)
    def prop(username: str, password: str, next_url: str | None, with_token: bool,
             next_in_query: bool, step: int) -> None:
        site.clock.advance(step)
        client = site.anonymous
        form = {"username": username, "password": password}
        if with_token:
            form["csrf_token"] = site.csrf(client)
        query = {}
        if next_url is not None:
            (query if next_in_query else form)["next"] = next_url
        response = client.post("/login", data=form, query_string=query)
        tally("POST /login", str(response.status_code))
        assert response.status_code < 500, response.status
        if not with_token:
            assert response.status_code == 400, response.status
        elif response.status_code == 302:
            assert_stays_on_site(response)
        else:
            assert response.status_code == 200, response.status
        with client.session_transaction() as session:
            session.pop("_user_id", None)  # stay anonymous: every example starts signed out

    prop()


def test_language_choice(site: Site) -> None:
    langs = st.one_of(st.text(max_size=30), st.sampled_from(["zh", "en", "EN", "zh-CN", ""]))

    @FUZZ
    @given(langs)
    def prop(lang: str) -> None:
        staff = site.staff.get("/", query_string={"lang": lang})
        tally("GET /?lang=", str(staff.status_code))
        assert staff.status_code == 200, staff.status
        assert re.search(r'<html lang="(zh-CN|en)"', staff.get_data(as_text=True))
        anonymous = site.anonymous.get("/", query_string={"lang": lang})
        assert anonymous.status_code == 302, anonymous.status
        assert_stays_on_site(anonymous)
        login = site.anonymous.get(anonymous.headers["Location"])
        assert login.status_code == 200, login.status

    prop()
