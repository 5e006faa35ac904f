"""Read and validate the community's TOML configuration.

Every field is documented where it is read. A mistake is refused at start with a message that
names the file, the section, the key and what is allowed (the Moonraker way); nothing about
the community is hard-coded elsewhere.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.catalogue import catalogue
from kiosk.channels import CHANNEL_TYPES
from kiosk.config_table import MISSING, Section
from kiosk.domain import Slot, TokenScope, format_buildings
from kiosk.errors import ConfigError
from kiosk.keypad import shortest_quiet
from kiosk.routing import coverage_gaps

CONFIG_ENV = "SHELF_CONFIG"
GPIO_PINS = range(2, 28)  # BCM numbers on the Pi's 40-pin header
ROLES = ("admin", "committee", "property")
LANGUAGES = ("zh", "en")
LED_KINDS = ("gpio", "74hc595")
BUTTON_KINDS = ("gpio", "74hc165")
REPLAYS = ("once", "loop")  # [kiosk] replay
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # a community's or a gate's id
# The forwarding headers waitress can believe from a trusted proxy (its trusted_proxy_headers).
TRUSTABLE_HEADERS = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
                 "x-forwarded-by", "forwarded")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Community:
    """[community]: who we are, where, and in which language by default."""

    name: str
    buildings: frozenset[int]
    timezone: ZoneInfo
    language: str
    id: str = ""  # the compound's stable slug at its centre ('xujiahui-garden'); "" alone


@dataclass(frozen=True)
class GateSettings:
    """[gate]: which entrance of the compound this Pi serves (a compound may have several)."""

    id: str  # stable slug: 'north'
    name: str  # for people: the centre's pages say "waiting for the north gate"


@dataclass(frozen=True)
class CentreSettings:
    """[centre]: the compound's shared store. A gate names its ``url`` and ``token``; the
    centre itself names its ``database``. Without [centre], nothing of it exists."""

    url: str = ""  # a gate: the centre's site, https://centre.example.org
    token: str = field(default="", repr=False)  # a gate: its credential (shelf centre gate add)
    database: str = field(default="", repr=False)  # the centre: postgresql://... (may hold a
    # password)
    sync_s: int = 10  # a gate pushes and pulls this often (and sooner after a failure's back-off)
    timeout_s: float = 10.0  # one exchange with the centre may take this long
    journal_days: int = 30  # a gate keeps what its centre acknowledged this long, then prunes

    @property
    def is_centre(self) -> bool:
        return bool(self.database)


@dataclass(frozen=True)
class PickupRules:
    """[pickup]: how a keypad slows down a guesser (``kiosk.keypad``), and what waits too long."""

    max_failures: int  # wrong codes in a run before the keypad waits; a day's before the room
    window_s: int  # a keypad with no wrong code this long starts a new run
    fresh_escalate_s: int = 3600  # a fresh parcel's door task still open this long: tell again
    return_after_days: int = 7  # a parcel waiting this long goes on the list to return
    max_wait_s: int = 60  # the longest wait between two codes at a keypad
    ask_room_from: int = 200  # households waiting from which a code needs its building-room


@dataclass(frozen=True)
class KioskSettings:
    """[kiosk]: the camera, the debounce, the lights and the buzzer of the gate."""

    camera: str
    debounce_s: float
    light_s: int
    buzzer_pin: int | None
    stills_days: int = 14  # days a scan's still is kept; 0 = none is taken
    collect_s: int = 120  # how long a team's slots blink "collect" (kiosk.collect)
    camera_freeze_s: float = 5.0  # a live camera silent this long is lost, and reopened
    replay: str = "once"  # a video:/images: camera's end: "once" ends the run, "loop" restarts
    place_s: int = 60  # a slot with a button waits this long for it after a check-in


@dataclass(frozen=True)
class TeamContact:
    """Where a team is told of its door tasks: a [[channels]] id and the address on it."""

    channel: str
    to: str


@dataclass(frozen=True)
class Team:
    """[[teams]]: who carries parcels to the doors of which buildings, when (``kiosk.routing``)."""

    id: str
    name: str
    buildings: frozenset[int]
    opens: time
    closes: time
    after_hours_for: tuple[str, ...] = ()
    notify: tuple[TeamContact, ...] = ()


@dataclass(frozen=True)
class Shelf:
    id: str
    name: str
    leds: str  # "gpio" or "74hc595"
    slots: tuple[Slot, ...]
    led_of: dict[str, int]  # slot code -> GPIO pin (gpio) or chain position (74hc595)
    chain_pins: dict[str, int] = field(default_factory=dict)  # data, clock, latch
    buttons: str = "gpio"  # "gpio" or "74hc165"
    button_of: dict[str, int] = field(default_factory=dict)  # slot code -> pin or position;
    # only the slots that have a button
    button_pins: dict[str, int] = field(default_factory=dict)  # 74hc165: data, clock, load


@dataclass(frozen=True)
class Layout:
    """[[shelves]] and [overflow]: where parcels can go."""

    shelves: tuple[Shelf, ...]
    overflow: Slot
    overflow_name: str

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(slot for shelf in self.shelves for slot in shelf.slots)

    def place(self, slot: Slot) -> str:
        """Where a slot is, for people: its shelf's name, or the overflow place's."""
        if slot.overflow:
            return self.overflow_name
        return next((s.name for s in self.shelves if s.id == slot.shelf), slot.shelf)


@dataclass(frozen=True)
class ChannelConfig:
    id: str
    type: str
    options: dict[str, Any] = field(repr=False)  # may hold a password


@dataclass(frozen=True)
class NoticeSettings:
    """[notices]: how long each contact of a household is tried, the workers' leases, and when
    residents are reminded of parcels still waiting (kiosk.notices.reminders).

    Quiet hours are the community's wall-clock and may cross midnight; ``None``: none.
    """

    contact_minutes: int = 30  # a contact that is not the last is retried this long
    give_up_hours: int = 24  # the last contact is retried this long, then the staff are told
    lease_seconds: int = 300  # a worker's claim on a notice it is sending
    remind_after_days: tuple[int, ...] = (1, 3)
    warn_before_return_days: int = 1  # 0: no "will be returned on ..." warning
    quiet_from: time | None = time(22, 0)
    quiet_until: time | None = time(7, 0)


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str = field(repr=False)
    role: str
    name: str


@dataclass(frozen=True)
class ProxyTrust:
    """[web] trusted_proxy*: the reverse proxy whose forwarding headers say who the client is.

    One setting for the whole site: waitress believes these headers (``web.serving``), and
    only on connections from ``address``; the Flask app then reads the client's address and
    scheme as waitress left them, and believes no header of its own accord.
    """

    address: str | None = None  # the proxy's IP as waitress sees it connect; None: no proxy
    count: int = 1  # proxies in a chain in front of waitress (the nearest at the right)
    headers: tuple[str, ...] = ("x-forwarded-for", "x-forwarded-proto")


@dataclass(frozen=True)
class ApiToken:
    """[[web.tokens]]: a tool's bearer token for /api/*: its name (who announced, in events and
    lists: ``name@api``), its secret, and what it may touch (``kiosk.domain.TokenScope``)."""

    name: str
    secret: str = field(repr=False)
    scope: TokenScope
    legacy: bool = False  # from [web] api_tokens: no name, no scope (`shelf doctor` warns)


@dataclass(frozen=True)
class WebSettings:
    """[web]: the staff site's cookie secret, API tokens and logins."""

    secret_key: str = field(repr=False)
    tokens: tuple[ApiToken, ...]
    users: tuple[User, ...]
    gate_clients: tuple[str, ...] = ()  # addresses besides this machine that may open /gate
    cookie_secure: bool = False  # always Secure cookies, even over plain HTTP (HTTPS: always)
    proxy: ProxyTrust = ProxyTrust()  # the reverse proxy in front, if any
    uploads_days: int = 30  # days an uploaded list's bytes are kept (the register keeps the rest)

    @property
    def api_tokens(self) -> tuple[str, ...]:
        """Every token's secret, as a tool sends it (``Authorization: Bearer ...``)."""
        return tuple(t.secret for t in self.tokens)


@dataclass(frozen=True)
class Config:
    """The whole file, one section per part: each part is handed only the sections it uses."""

    path: Path
    database: Path
    community: Community
    label_secret: bytes = field(repr=False)
    pickup: PickupRules
    kiosk: KioskSettings
    teams: tuple[Team, ...]
    layout: Layout
    channels: tuple[ChannelConfig, ...]
    web: WebSettings
    notices: NoticeSettings = field(default_factory=NoticeSettings)
    backup: BackupSettings = field(default_factory=lambda: BackupSettings())
    gate: GateSettings | None = None  # [gate]: required with a [centre] url
    centre: CentreSettings | None = None  # [centre]: a gate of a compound, or the centre


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """The file named on the command line, else $SHELF_CONFIG, else refuse."""
    chosen = explicit or os.environ.get(CONFIG_ENV)
    if not chosen:
        raise ConfigError(f"no configuration: pass --config FILE or set {CONFIG_ENV}")
    return Path(chosen)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the TOML file at ``path``."""
    path = Path(path)
    try:
        data = tomllib.loads(_config_text(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, path)


def _config_text(path: Path) -> str:
    """The file's text: UTF-8, with or without the BOM that Windows Notepad writes."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:256]:
        raise ConfigError(f"{path}: not UTF-8 (it is UTF-16): save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 (line {line}): save it as UTF-8") from None


def parse_config(data: dict[str, Any], path: Path) -> Config:
    top = Section(str(path), "top level", data)

    community = top.table("community")
    buildings = community.buildings("buildings", None)  # every building number in the compound
    tz_name = community.str("timezone", "Asia/Shanghai")  # IANA name, for times people read
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        community.fail(f"[community] timezone = {tz_name!r}: not an IANA zone like Asia/Shanghai")
    language = community.str("language", "zh", choices=LANGUAGES)  # default UI language
    # Shown on pages and in notices: one string, or one per language: { zh = "...", en = "..." }
    # (so are the names of teams, shelves and the overflow place).
    name = _local_name(community, "name", MISSING, language)
    # The compound's stable id at its centre (a slug: lower-case letters, digits, '-'): it
    # keys everything the centre holds for it. Required with [centre]; never change it.
    community_id = community.str("id", "")
    if community_id and not SLUG.fullmatch(community_id):
        community.fail(f"[community] id = {community_id!r}: a stable slug of lower-case "
                       "letters, digits and '-', e.g. xujiahui-garden")
    community.done()
    centre, gate = _centre(top, community_id, language)

    database = top.table("database")
    db_path = Path(database.str("path", "shelf.db"))  # relative to this file's folder
    database.done()

    labels = top.table("labels")
    secret = labels.str("secret")  # signs labels and pickup QR codes; keep it private
    _check_secret(labels, "secret", secret)
    labels.done()

    pickup = top.table("pickup", required=False)
    # A keypad takes this many wrong pickup codes in a run at once; after each further one it
    # waits 5 s, 10 s, 20 s ... up to max_wait_seconds before it takes the next code. So many
    # wrong codes within a day also make it ask for the building-room with the code.
    max_failures = pickup.int("max_failures", 5, minval=1, maxval=100)
    # A keypad with no wrong code for this long starts a new run (its free tries again).
    window_min = pickup.int("window_minutes", 15, minval=1, maxval=1440)
    # The longest wait between two codes: a guesser's pace (3600 / this an hour), and the most
    # that the resident after them waits.
    max_wait = pickup.int("max_wait_seconds", 60, minval=10, maxval=900)
    quiet = shortest_quiet(max_failures, max_wait)
    if window_min * 60 < quiet:
        pickup.fail(f"[pickup] window_minutes = {window_min} is too short: a guesser who waits "
                    f"that long after each run of wrong codes would type more than one code "
                    f"every max_wait_seconds ({max_wait} s); use at least "
                    f"{math.ceil(quiet / 60)}")
    # From this many households waiting, a pickup code typed at a keypad needs its building-room
    # too (a code alone is checked against every waiting household's); 0: always.
    ask_room_from = pickup.int("ask_room_from", 200, minval=0, maxval=1_000_000)
    # A fresh parcel's door task still open after this long is escalated: its team is told
    # again, and as long again later the other teams too.
    fresh_min = pickup.int("fresh_escalate_minutes", 60, minval=5, maxval=1440)
    # A parcel waiting this many days goes on the staff's list to return to the courier.
    return_days = pickup.int("return_after_days", 7, minval=1, maxval=90)
    pickup.done()

    kiosk = top.table("kiosk", required=False)
    camera = kiosk.str("camera", "device:0")  # device:N, picamera2[:N], video:FILE or images:DIR
    if not re.match(r"^((device|video|images):.+|picamera2(:\d+)?)$", camera):
        kiosk.fail(f"[kiosk] camera = {camera!r}: "
                   "allowed forms are device:0, picamera2, picamera2:0, video:FILE, images:DIR")
    kind, _, where = camera.partition(":")
    if kind in ("video", "images"):  # files are found relative to this configuration file
        camera = f"{kind}:{(path.parent / where).resolve()}"
    # A live camera that delivers no new frame for this long is lost: it is closed and reopened.
    freeze_s = kiosk.float("camera_freeze_seconds", 5.0, minval=0.5, maxval=300)
    # A replayed camera (video:, images:) at its end: "once" ends `shelf run` (exit 0, which
    # the kiosk's unit does not restart), "loop" plays it again from the start, for ever.
    replay = kiosk.str("replay", "once", choices=REPLAYS)
    debounce = kiosk.float("debounce_seconds", 2.0, minval=0.1, maxval=60)  # label out of view
    light_s = kiosk.int("light_seconds", 30, minval=1, maxval=600)  # how long a slot stays lit
    buzzer = kiosk.int("buzzer_pin", 18, minval=0, maxval=27)  # 0 = no buzzer
    if buzzer == 1 or (buzzer and buzzer not in GPIO_PINS):
        kiosk.fail(f"[kiosk] buzzer_pin = {buzzer}: allowed GPIO pins are 2 to 27, or 0 for none")
    # A still is a picture from the gate's camera: kept this many days, then deleted; 0 = none.
    stills_days = kiosk.int("stills_days", 14, minval=0, maxval=365)
    # Staff fetching their door-delivery parcels: their slots blink this long ("collect").
    collect_s = kiosk.int("collect_seconds", 120, minval=10, maxval=1800)
    # A slot with a button stays lit this long after a check-in, waiting for the courier to
    # press it; then the gate screen and the staff pages say the parcel is not confirmed.
    place_s = kiosk.int("place_seconds", 60, minval=5, maxval=600)
    kiosk.done()

    teams = tuple(_team(t, buildings, language) for t in top.tables("teams"))
    _unique(top, "teams", [t.id for t in teams])
    shelves: list[Shelf] = []
    # Positions run on across shelves: A-01.., B-01... The centre serves no shelf of its own:
    # [[shelves]] and [overflow] are a gate's.
    for shelf_t in top.tables("shelves", required=not (centre and centre.is_centre)):
        shelves.append(_shelf(shelf_t, buildings, sum(len(s.slots) for s in shelves),
                              language))
    _unique(top, "shelves", [s.id for s in shelves])
    codes = [slot.code for shelf in shelves for slot in shelf.slots]
    _unique(top, "shelves.slots", codes)
    _check_pins(top, tuple(shelves), buzzer)

    overflow_t = top.table("overflow", required=not (centre and centre.is_centre))
    overflow_code = overflow_t.str("code", "OVERFLOW")  # what the screen and notices call it
    # Where it is, for people.
    overflow_name = _local_name(overflow_t, "name", "Overflow area", language)
    overflow = Slot(overflow_code, overflow_code, len(codes), capacity=10**6, overflow=True)
    overflow_t.done()
    if overflow.code in codes:
        top.fail(f"[overflow] code = {overflow.code!r} is already a slot code")

    channels = tuple(_channel(c) for c in top.tables("channels", required=False))
    _unique(top, "channels", [c.id for c in channels])
    _check_teams(top, teams, buildings, channels)

    web = top.table("web")
    web_secret = web.str("secret_key")  # signs login cookies: who knows it can forge an admin's
    _check_secret(web, "secret_key", web_secret)
    # Bearer tokens for /api/* without a login: [[web.tokens]] (each named and scoped, see
    # _token), and the older api_tokens = ["..."]: unnamed, unscoped (any household).
    tokens = _legacy_tokens(web) + tuple(_token(t, buildings)
                                         for t in web.tables("tokens", required=False))
    _unique(top, "web.tokens", [t.name for t in tokens])
    if len({t.secret for t in tokens}) < len(tokens):
        top.fail("[[web.tokens]]: two tokens have the same secret; give each tool its own")
    users = tuple(_user(u) for u in web.tables("users", required=False))
    _unique(top, "web.users", [u.username for u in users])
    # The gate screen has no login: besides the Pi itself, only these addresses may open it.
    gate_clients = tuple(_ip_address(web, "gate_clients", a) for a in web.list("gate_clients", []))
    # Secure cookies (sent over HTTPS only) even when a request came over plain HTTP; a
    # request that came over HTTPS (the proxy says so) gets them anyway.
    cookie_secure = web.bool("cookie_secure", False)
    proxy = _proxy_trust(web)
    # An uploaded list (households' phones and e-mail, the observation list) is kept this many
    # days for its preview, its confirmation and a later look; then its bytes are deleted.
    uploads_days = web.int("uploads_days", 30, minval=1, maxval=365)
    web.done()
    notices = _notice_settings(top.table("notices", required=False))
    backup = _backup(top.table("backup", required=False), path)
    top.done()

    return Config(
        path=path,
        database=(path.parent / db_path).resolve(),
        community=Community(name, buildings, timezone, language, community_id),
        label_secret=secret.encode(),
        pickup=PickupRules(max_failures, window_min * 60, fresh_min * 60, return_days, max_wait,
                           ask_room_from),
        kiosk=KioskSettings(camera, debounce, light_s, buzzer or None, stills_days, collect_s,
                            freeze_s, replay, place_s),
        teams=teams,
        layout=Layout(tuple(shelves), overflow, overflow_name),
        channels=channels,
        web=WebSettings(web_secret, tokens, users, gate_clients, cookie_secure, proxy,
                        uploads_days),
        notices=notices,
        backup=backup,
        gate=gate,
        centre=centre,
    )


def _centre(top: Section, community_id: str,
            language: str) -> tuple[CentreSettings | None, GateSettings | None]:
    """[centre] and [gate]: a gate of a compound (url, token), or the centre (database)."""
    if "centre" not in top.data:
        if "gate" in top.data:
            top.fail("[gate] needs a [centre] section: the gate of which centre? (without "
                     "[centre], remove [gate]: a gate on its own needs no id)")
        return None, None
    section = top.table("centre")
    # A gate: the centre's site (https:// over the internet). The centre: its own address as
    # its gates reach it (optional; `shelf centre gate add` prints it in a gate's config).
    url = section.str("url", "")
    token = section.str("token", "")  # a gate: its credential, from `shelf centre gate add`
    database = section.str("database", "")  # the centre: postgresql://user@host/name
    # How often a gate pushes what the centre lacks and pulls what it lacks (after a failure
    # it waits longer, doubling up to 30 times this, then tries on).
    sync_s = section.int("sync_seconds", 10, minval=1, maxval=3600)
    timeout_s = section.float("timeout_seconds", 10.0, minval=1, maxval=300)
    # A gate keeps the records its centre has acknowledged this long, then prunes them: a
    # centre restored from a backup asks for what it lost again, so keep them longer than
    # the age of the centre's oldest backup you would restore from.
    journal_days = section.int("journal_days", 30, minval=1, maxval=3650)
    section.done()
    if not community_id:
        top.fail("[community] id is missing: with [centre], the compound needs a stable id "
                 "(a slug such as xujiahui-garden)")
    if (database and token) or not (database or url):
        section.fail("[centre]: give either url and token (this is a gate of the compound) or "
                     "database (this is the compound's centre, with its own url if you like), "
                     "not both")
    if database and not database.startswith(("postgresql://", "postgres://")):
        section.fail(f"[centre] database = {_shown(database)!r}: a PostgreSQL URL, e.g. "
                     "postgresql://shelf@localhost/shelf")
    gate = None
    if url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        section.fail(f"[centre] url = {url!r}: the centre's address, e.g. "
                     "https://centre.example.org")
    if not database:
        if not token:
            section.fail("[centre] is missing the key 'token' (the gate's credential, printed "
                         "once by `shelf centre gate add`)")
        _check_secret(section, "token", token)
        gate = _gate(top.table("gate"), language)
    elif "gate" in top.data:
        top.fail("[gate] is a gate's section: the centre (with [centre] database) has none")
    return CentreSettings(url.rstrip("/"), token, database, sync_s, timeout_s,
                          journal_days), gate


def _shown(url: str) -> str:
    """A database URL as an error may show it: any password replaced."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def _gate(section: Section, language: str) -> GateSettings:
    gate_id = section.str("id")  # stable slug, as registered at the centre: 'north'
    if not SLUG.fullmatch(gate_id):
        section.fail(f"[gate] id = {gate_id!r}: a stable slug of lower-case letters, digits "
                     "and '-', e.g. north")
    name = _local_name(section, "name", gate_id, language)  # what people call it
    section.done()
    return GateSettings(gate_id, name)


def _proxy_trust(web: Section) -> ProxyTrust:
    """[web] trusted_proxy, trusted_proxy_count, trusted_proxy_headers (or, from before,
    trusted_proxies = N: a proxy on this machine, N in a chain)."""
    # The reverse proxy in front (Caddy or nginx on this machine: "127.0.0.1"): its headers
    # are believed on its own connections only; "" for none (anyone could write them).
    address = web.str("trusted_proxy", "")
    # How many proxies stand in a chain in front of waitress (one proxy on the Pi: 1).
    count = web.int("trusted_proxy_count", 1, minval=1, maxval=5)
    # What the proxy says: the client's address (x-forwarded-for, or forwarded) and scheme.
    headers = web.list("trusted_proxy_headers", list(ProxyTrust.headers))
    before = web.int("trusted_proxies", 0, minval=0, maxval=5)  # the key of before
    given = {k for k in ("trusted_proxy_count", "trusted_proxy_headers") if k in web.data}
    given |= {"trusted_proxy"} if address else set()
    if before and given:
        web.fail("[web] trusted_proxies is replaced by trusted_proxy and trusted_proxy_count: "
                 "remove it")
    if before:  # the proxy of before could only be on this machine (shelf-web.service)
        log.warning('[web] trusted_proxies = %d is read as trusted_proxy = "127.0.0.1" and '
                    "trusted_proxy_count = %d: write those instead", before, before)
        return ProxyTrust("127.0.0.1", before)
    if not address:
        if given:
            web.fail(f"[web] {min(given)} means nothing without trusted_proxy (the proxy's "
                     'address, e.g. "127.0.0.1")')
        return ProxyTrust()
    address = _ip_address(web, "trusted_proxy", address)
    named = []
    for header in headers:
        if not isinstance(header, str) or header.lower() not in TRUSTABLE_HEADERS:
            web.fail(f"[web] trusted_proxy_headers: {header!r} is not one of "
                     f"{', '.join(TRUSTABLE_HEADERS)}")
        named.append(header.lower())
    if "forwarded" in named and len(set(named)) > 1:
        web.fail("[web] trusted_proxy_headers: forwarded and the x-forwarded-* headers say the "
                 "same things: trust one kind, not both")
    if not {"forwarded", "x-forwarded-for"} & set(named):
        web.fail("[web] trusted_proxy_headers must name x-forwarded-for (or forwarded): the "
                 "client's address is what a proxy is trusted for")
    return ProxyTrust(address, count, tuple(dict.fromkeys(named)))


def _clock_time(section: Section, text: str) -> time:
    match = re.fullmatch(r"(\d{2}):(\d{2})", text)
    if not match or int(match[1]) > 24 or int(match[2]) > 59 or (
            int(match[1]) == 24 and int(match[2])):
        section.fail(f"[{section.name}] hours = {text!r}: expected HH:MM-HH:MM, e.g. 08:30-17:30")
    hour, minute = int(match[1]), int(match[2])
    return time.max if hour == 24 else time(hour, minute)


def _team(section: Section, known: frozenset[int], language: str) -> Team:
    team_id = section.str("id")  # short name used in task lists, e.g. committee
    name = _local_name(section, "name", team_id, language)
    served = section.buildings("buildings", known)
    # When on duty, the community's wall-clock; may cross midnight (22:00-06:00).
    hours = section.str("hours", "00:00-24:00")
    opens, _, closes = hours.partition("-")
    after = section.list("after_hours_for", [])  # teams whose buildings it covers off-hours
    # Told of fresh food, handed-over and escalated door tasks, e.g.
    # [{ channel = "email", to = "committee@example.org" }]
    notify = tuple(_team_contact(section, i, c) for i, c in enumerate(
        section.list("notify", [])))
    section.done()
    team = Team(team_id, name, served, _clock_time(section, opens),
                _clock_time(section, closes), tuple(after), notify)
    if team.opens == time.max or team.opens == team.closes:
        section.fail(f"[{section.name}] hours = {hours!r}: a shift must open before 24:00 and "
                     "last a while (all day is 00:00-24:00)")
    for other in after:
        if not isinstance(other, str) or other == team_id:
            section.fail(f"[{section.name}] after_hours_for: {other!r} must name another "
                         "team's id")
    return team


def _team_contact(section: Section, index: int, value: Any) -> TeamContact:
    where = Section(section.source, f"{section.name} notify #{index + 1}", value)
    contact = TeamContact(where.str("channel"), where.str("to"))  # a [[channels]] id; address
    where.done()
    if not contact.to.strip() or len(contact.to) > 254 or any(c.isspace() for c in contact.to):
        where.fail(f"[{where.name}] to = {contact.to!r}: an address without spaces, e.g. "
                   "committee@example.org")
    return contact


def _check_teams(top: Section, teams: tuple[Team, ...], buildings: frozenset[int],
                 channels: tuple[ChannelConfig, ...]) -> None:
    """Refuse teams that leave a building without a team at some hour, or name what is not."""
    ids = {t.id for t in teams}
    kinds = {c.id: c.type for c in channels}
    for team in teams:
        unknown = [other for other in team.after_hours_for if other not in ids]
        if unknown:
            top.fail(f"[[teams]] {team.id!r}: after_hours_for names {unknown[0]!r}, which is not "
                     f"a team; teams are {', '.join(sorted(ids))}")
        for contact in team.notify:
            if contact.channel not in kinds:
                top.fail(f"[[teams]] {team.id!r}: notify channel {contact.channel!r} is not a "
                         f"[[channels]] id; channels are {', '.join(sorted(kinds)) or 'none'}")
            if kinds[contact.channel] == "email" and "@" not in contact.to:
                top.fail(f"[[teams]] {team.id!r}: notify to = {contact.to!r} is not an e-mail "
                         "address")
    by_hours: dict[str, set[int]] = {}
    for building, gaps in coverage_gaps(teams, buildings).items():
        by_hours.setdefault(", ".join(map(str, gaps)), set()).add(building)
    if by_hours:
        missing = "; ".join(f"building(s) {format_buildings(b)} at {hours}"
                            for hours, b in by_hours.items())
        top.fail(f"[[teams]]: no team serves {missing}: give a team those buildings at those "
                 "hours, or let a team on duty then cover the owner (after_hours_for)")


def _shelf(section: Section, known: frozenset[int], first_position: int,
           language: str) -> Shelf:
    shelf_id = section.str("id")
    name = _local_name(section, "name", f"Shelf {shelf_id}", language)
    leds = section.str("leds", "gpio", choices=LED_KINDS)  # one pin per slot, or a 74HC595 chain
    chain: dict[str, int] = {}
    if leds == "74hc595":
        for role in ("data_pin", "clock_pin", "latch_pin"):
            chain[role.removesuffix("_pin")] = section.int(role, minval=2, maxval=27)
    # The slots' buttons (hardware/buttons.py): one pin per slot, or a 74HC165 chain read by
    # three pins of its own. A slot without ``button`` has none: it works as before.
    buttons = section.str("buttons", "gpio", choices=BUTTON_KINDS)
    slots, led_of, button_of = [], {}, {}
    for i, slot_t in enumerate(section.tables("slots")):
        code = slot_t.str("code")  # printed on the shelf, e.g. A-07
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{0,9}", code):
            slot_t.fail(f"[{slot_t.name}] code = {code!r}: use capitals, digits and '-', e.g. A-07")
        if leds == "gpio":
            led = slot_t.int("led", minval=2, maxval=27)  # BCM GPIO pin of this slot's LED
        else:
            led = slot_t.int("led", minval=0, maxval=255)  # output position on the chain
        if "button" in slot_t.data:  # BCM GPIO pin (gpio) or input position (74hc165)
            button_of[code] = (slot_t.int("button", minval=2, maxval=27) if buttons == "gpio"
                               else slot_t.int("button", minval=0, maxval=255))
        capacity = slot_t.int("capacity", 4, minval=1, maxval=50)  # parcels it holds
        zone = slot_t.buildings("buildings", known, "")  # empty: any building
        slot_t.done()
        slots.append(Slot(code, shelf_id, first_position + i, capacity, zone,
                          button=code in button_of))
        led_of[code] = led
    button_pins: dict[str, int] = {}
    if buttons == "74hc165":
        for role in ("button_data_pin", "button_clock_pin", "button_load_pin"):
            button_pins[role.removeprefix("button_").removesuffix("_pin")] = section.int(
                role, minval=2, maxval=27)
        if button_pins["data"] in (2, 3):  # I2C: fixed 1.8 kΩ pull-ups the chip would fight
            section.fail(f"[{section.name}] button_data_pin = {button_pins['data']}: GPIO 2 and "
                         "3 have fixed pull-ups; allowed GPIO pins are 4 to 27")
    section.done()
    return Shelf(shelf_id, name, leds, tuple(slots), led_of, chain, buttons, button_of,
                 button_pins)


def _check_pins(top: Section, shelves: tuple[Shelf, ...], buzzer: int) -> None:
    owner: dict[int, str] = {buzzer: "[kiosk] buzzer_pin"} if buzzer else {}
    for shelf in shelves:
        pins = dict(shelf.chain_pins) if shelf.leds == "74hc595" else dict(shelf.led_of)
        pins = {f"{'slot ' if shelf.leds == 'gpio' else ''}{who}": pin
                for who, pin in pins.items()}
        if shelf.buttons == "74hc165":
            pins |= {f"button_{role}_pin": pin for role, pin in shelf.button_pins.items()}
        else:
            pins |= {f"slot {code} button": pin for code, pin in shelf.button_of.items()}
        for who, pin in pins.items():
            what = f"shelf {shelf.id} {who}"
            if pin in owner:
                top.fail(f"GPIO {pin} is used twice: by {owner[pin]} and by {what}")
            owner[pin] = what
        if shelf.leds == "74hc595":
            positions = list(shelf.led_of.values())
            if len(set(positions)) != len(positions):
                top.fail(f"shelf {shelf.id}: two slots share one chain position")
        if shelf.buttons == "74hc165":
            positions = list(shelf.button_of.values())
            if len(set(positions)) != len(positions):
                top.fail(f"shelf {shelf.id}: two slots' buttons share one 74HC165 input")


def _channel(section: Section) -> ChannelConfig:
    kind = section.str("type", choices=tuple(CHANNEL_TYPES))
    channel_id = section.str("id", kind)
    options = CHANNEL_TYPES[kind].read_options(section)  # each type documents its own keys
    section.done()
    return ChannelConfig(channel_id, kind, options)


def role_named(text: str, roles: tuple[str, ...]) -> str | None:
    """The role ``text`` names, by its id (``committee``) or its Chinese name (``居委会``, the
    catalogue's core ``role_<id>``), as staff type it; None when it names none of ``roles``."""
    said, words = text.strip(), catalogue("core")
    return next((role for role in roles
                 if said.lower() == role or said == words.text("zh", f"role_{role}")), None)


def roles_allowed(roles: tuple[str, ...]) -> str:
    """What a role may be, in both languages: ``admin (管理员), committee (居委会), ...``."""
    words = catalogue("core")
    return ", ".join(f"{role} ({words.text('zh', f'role_{role}')})" for role in roles)


def _user(section: Section) -> User:
    username = section.str("username")
    # Staff accounts live in the store now (`shelf users`); these are copied there at start.
    password_hash = section.str("password_hash")  # from `shelf hash-password`; never the password
    role = role_named(section.str("role"), ROLES)
    if role is None:
        section.fail(f"[{section.name}] role = {section.data['role']!r}: allowed values are "
                     f"{roles_allowed(ROLES)}")
    name = section.str("name", username)
    section.done()
    return User(username, password_hash, role, name)


TOKEN_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
CARRIER_PREFIX_RE = re.compile(r"^[A-Z0-9]{1,10}$")


def _token(section: Section, known: frozenset[int]) -> ApiToken:
    # Who announced, in events and the staff's list of announcements: "<name>@api".
    name = section.str("name")
    if not TOKEN_NAME_RE.match(name):
        section.fail(f"[{section.name}] name = {name!r}: 1-32 lower-case letters, digits, "
                     "'-', '_' or '.', starting with a letter or digit, e.g. \"groupbuy-bot\"")
    secret = section.str("token")  # what the tool sends: Authorization: Bearer <token>
    _check_secret(section, "token", secret)
    # Whose parcels it may announce (and see in GET /api/slots); the whole compound is
    # written out ("1-35"), so that no token reaches everything by a key left out.
    scope_buildings = section.buildings("buildings", known)
    # Tracking numbers it may announce start with one of these (a carrier's own bot: ["SF"]);
    # [] or left out: any carrier's. It then sees only those parcels in GET /api/slots.
    carriers = section.list("carriers", [])
    for prefix in carriers:
        if not isinstance(prefix, str) or not CARRIER_PREFIX_RE.match(prefix.upper()):
            section.fail(f"[{section.name}] carriers: {prefix!r} is not the start of a "
                         'tracking number; write 1-10 letters or digits, e.g. ["SF", "JD"]')
    section.done()
    return ApiToken(name, secret, TokenScope(scope_buildings,
                                             tuple(p.upper() for p in carriers)))


def _legacy_tokens(web: Section) -> tuple[ApiToken, ...]:
    """[web] api_tokens = ["..."], as configurations before named tokens wrote them.

    Each still works, for every household and carrier, named by its place (``api-1``);
    `shelf doctor` warns until it is moved to a [[web.tokens]] table with a scope.
    """
    tokens = []
    for number, secret in enumerate(web.list("api_tokens", []), start=1):
        if not isinstance(secret, str):
            web.fail(f"[web] api_tokens must be strings, not {type(secret).__name__}")
        _check_secret(web, "api_tokens", secret)
        tokens.append(ApiToken(f"api-{number}", secret, TokenScope(), legacy=True))
    return tuple(tokens)


def _unique(top: Section, what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            top.fail(f"[[{what}]]: {item!r} appears twice")
        seen.add(item)


MIN_SECRET_BYTES = 32
# Words that mark a value copied from an example rather than made for this community.
SAMPLE_SECRET_MARKERS = ("changeme", "change-me", "change_me", "replace-me", "replace_me",
                         "your-secret", "your_secret", "example", "placeholder")
MAKE_SECRET = ('`shelf init` writes good ones, or make one with: '
               'python -c "import secrets; print(secrets.token_urlsafe(32))"')


def _check_secret(section: Section, key: str, value: str) -> None:
    """Refuse a secret that is an unfilled template placeholder, a sample or short."""
    where = f"[{section.name}] {key}"
    if value.startswith("$"):
        section.fail(f"{where} is still a template's $placeholder: put a random secret of at "
                     f"least {MIN_SECRET_BYTES} bytes there; {MAKE_SECRET}")
    if any(marker in value.lower() for marker in SAMPLE_SECRET_MARKERS):
        section.fail(f"{where} looks like a sample value, not a secret: put a random one of at "
                     f"least {MIN_SECRET_BYTES} bytes there; {MAKE_SECRET}")
    if len(value.encode()) < MIN_SECRET_BYTES:
        section.fail(f"{where} must be at least {MIN_SECRET_BYTES} bytes long, not "
                     f"{len(value.encode())}; {MAKE_SECRET}")
    if len(set(value)) < 8:  # 'xxxx...': long enough, guessable all the same
        section.fail(f"{where} repeats a few characters: put a random secret there; {MAKE_SECRET}")


def _ip_address(section: Section, key: str, value: Any) -> str:
    """One IP address as written in ``key``'s list, normalised (``::1``, ``192.168.1.20``)."""
    try:
        return str(ipaddress.ip_address(value if isinstance(value, str) else ""))
    except ValueError:
        section.fail(f"[{section.name}] {key}: {value!r} is not an IP address like 192.168.1.20")
        raise  # not reached: fail() raises ConfigError


class LocalName(str):
    """A name people read (community, shelf, team, overflow place), given per language.

    The string itself is the name in the community's default language, so every place that
    shows one language (labels, ``/api/slots``, logs) takes it as it always took a string;
    ``in_language`` gives a page or a notice the name in its own language.
    """

    __slots__ = ("by_language",)
    by_language: dict[str, str]

    def __new__(cls, by_language: dict[str, str], default: str) -> LocalName:
        name = super().__new__(cls, by_language.get(default) or next(iter(by_language.values())))
        name.by_language = dict(by_language)
        return name

    def __reduce__(self) -> tuple[Any, ...]:
        return LocalName, (self.by_language, next(
            (k for k, v in self.by_language.items() if v == str(self)), ""))

    def in_language(self, language: str) -> str:
        """The name in ``language``; in the default language when it has none there."""
        return self.by_language.get(language) or str(self)


def in_language(name: str, language: str) -> str:
    """``name`` in ``language`` when it was given per language; a plain string as it is."""
    return name.in_language(language) if isinstance(name, LocalName) else name


PER_LANGUAGE = ('a string, or one per language like '
                '{ zh = "居委会", en = "Residents\' committee" }')


def _local_name(section: Section, key: str, default: Any, language: str) -> LocalName:
    """A name given as one string (every language) or as a table of language -> name.

    A language key that is not one the site speaks is refused, naming the allowed ones.
    """
    value = section._get(key, default, (str, dict), PER_LANGUAGE)
    where = f"[{section.name}] {key}"
    given = value if isinstance(value, dict) else dict.fromkeys(LANGUAGES, value)
    if not given:
        section.fail(f"{where} = {{}}: give the name in {' or '.join(LANGUAGES)}")
    for code, text in given.items():
        if code not in LANGUAGES:
            near = difflib.get_close_matches(code, LANGUAGES, 1)
            hint = f" (is '{code}' a typo for '{near[0]}'?)" if near else ""
            section.fail(f"{where}: '{code}' is not a language the site speaks{hint}; "
                         f"allowed: {', '.join(LANGUAGES)}")
        if not isinstance(text, str) or not text.strip():
            section.fail(f"{where}.{code} = {text!r}: must be a name, not empty")
    return LocalName({code: text.strip() for code, text in given.items()}, language)


def names_in_languages(**names: str) -> dict[str, dict[str, str]]:
    """Each name in every language (a notice's payload keeps them: it is written in both)."""
    return {key: {code: in_language(name, code) for code in LANGUAGES}
            for key, name in names.items()}


def _notice_settings(section: Section) -> NoticeSettings:
    """[notices]: every key may be left out."""
    # A household's contact that is not its last is retried this long before the next
    # (its second phone, its e-mail ...) is tried: a few attempts, 30 s apart and doubling.
    contact_minutes = section.int("contact_minutes", 30, minval=1, maxval=24 * 60)
    # The last contact is retried this long; then the notice is on the staff's exceptions.
    give_up_hours = section.int("give_up_hours", 24, minval=1, maxval=7 * 24)
    # A notice worker's claim on a notice while it sends; another worker takes the notice
    # up once a claim runs out (its worker died). Longer than the slowest send.
    lease_seconds = section.int("lease_seconds", 300, minval=30, maxval=3600)
    # A reminder after a parcel has waited each of these many days: one per household and round.
    days = section.list("remind_after_days", [1, 3])
    if any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 90 for d in days) or (
            list(days) != sorted(set(days))):
        section.fail(f"[notices] remind_after_days = {days!r}: whole days from 1 to 90, rising, "
                     "e.g. [1, 3]; [] for none")
    # "Will be returned to the courier on D": this many days before D ([pickup]
    # return_after_days after check-in); 0 for no warning.
    warn = section.int("warn_before_return_days", 1, minval=0, maxval=30)
    # No reminders or return warnings in these hours (pickup and fresh-food notices always go);
    # what falls due in them goes when they end. "" for none.
    quiet = section.str("quiet_hours", "22:00-07:00")
    section.done()
    quiet_from = quiet_until = None
    if quiet:
        match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", quiet)
        if not match or match.group(1, 2) == match.group(3, 4):
            section.fail(f"[notices] quiet_hours = {quiet!r}: expected HH:MM-HH:MM, e.g. "
                         "22:00-07:00 (may cross midnight), or \"\" for none")
        quiet_from = time(int(match[1]), int(match[2]))
        quiet_until = time(int(match[3]), int(match[4]))
    return NoticeSettings(contact_minutes, give_up_hours, lease_seconds, tuple(days), warn,
                          quiet_from, quiet_until)


@dataclass(frozen=True)
class BackupSettings:
    """[backup]: where `shelf backup` writes, how many it keeps, where it copies them too."""

    dir: Path | None = None  # None: a folder "backups" beside the database
    keep: int = 14  # newest backups kept (the timer makes one a day)
    copy_to: Path | None = None  # e.g. a folder on a USB stick: copied there too


def _backup(section: Section, path: Path) -> BackupSettings:
    # Folders are found relative to this configuration file, like [database] path.
    folder = section.str("dir", "")
    keep = section.int("keep", 14, minval=1, maxval=1000)
    # A folder on a USB stick or a mounted share; name a folder INSIDE the mount (for example
    # /media/usb/shelf-backups): while the stick is away it is missing, and the copy is skipped
    # with a warning instead of filling the SD card under the empty mount point.
    copy_to = section.str("copy_to", "")
    section.done()
    return BackupSettings((path.parent / folder).resolve() if folder else None, keep,
                          (path.parent / copy_to).resolve() if copy_to else None)


def backup_dir(config: Config) -> Path:
    """Where `shelf backup` writes: [backup] dir, else "backups" beside the database."""
    return config.backup.dir or config.database.parent / "backups"
