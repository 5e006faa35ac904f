"""`shelf doctor`: one line per check of what the gate needs, a non-zero exit on a failure.

Each check is a small function returning a ``Check``; none changes anything, none sends a
notice (a channel is only connected to), and none fights the running kiosk for the camera or
the pins: while `shelf run` holds the database's lock it says so instead.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from kiosk.app.words import english, language, say
from kiosk.backup import backup_age, running
from kiosk.config import ApiToken, ChannelConfig, Config, Shelf, backup_dir
from kiosk.errors import StoreUnavailable
from kiosk.ports import Clock
from kiosk.queries import camera_lost, kiosk_health
from kiosk.store import connect, integrity_problems

OK, WARN, FAIL = "ok", "warn", "FAIL"
BACKUP_MAX_AGE = timedelta(days=2)
DISK_FAIL_BYTES = 200 * 2**20  # below this a day of stills and a backup may not fit
DISK_WARN_BYTES = 1024 * 2**20
CONNECT_TIMEOUT_S = 3.0
FRAME_WAIT_S = 5.0
SYNC_FLAG = Path("/run/systemd/timesync/synchronized")  # systemd-timesyncd's "synchronised"
KIOSK_UNIT = Path("/etc/systemd/system/shelf-kiosk.service")  # installed by scripts/install
SYSTEMD_BOOTED = Path("/run/systemd/system")  # there while systemd runs the system (sd_booted)
SERVICES = ("shelf-kiosk", "shelf-web", "shelf-notices")  # systemd/*.service
UNIT_PROPERTIES = ("LoadState", "ActiveState", "SubState", "Result", "ExecMainStatus",
                   "StatusText", "NRestarts")
LOCALTIME = Path("/etc/localtime")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: what was found is a catalogue key and its values, so
    the line is said in the operator's language while ``--json`` stays the same in all."""

    name: str  # camera, pins, ..., "channel <id>": the --json name, never translated
    status: str  # OK, WARN or FAIL
    key: str  # doctor_<...> in the catalogue's shelf domain (kiosk/locale/shelf.pot)
    values: Mapping[str, object] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        """The finding in English: the --json ``detail``, the same whatever the language."""
        return english(self.key, **self.values)

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}

    def line(self) -> str:
        if language() == "en":
            return f"{self.status:<4}  {self.name:<9} {self.detail}"
        kind, _, channel = self.name.partition(" ")
        name = say(f"doctor_{kind}", id=channel)
        return f"{_pad(say(f'doctor_{self.status.lower()}'), 4)}  {_pad(name, 14)}  " + say(
            self.key, **self.values)


# ---- the checks --------------------------------------------------------------------------

def check_camera(spec: str, database: Path,
                 open_source: Callable[[str], Any] | None = None, *,
                 now: datetime | None = None, unit: Path = KIOSK_UNIT) -> Check:
    """The camera opens and delivers a frame; while the running kiosk holds it, what the kiosk
    says of it (as GET /healthz does: lost and why, or the kiosk no longer heard). Where the
    kiosk's ``unit`` is installed, a replay is where that service can see it."""
    if "run" in running(database):
        return camera_of_the_kiosk(database, now or datetime.now(UTC))
    from hardware.camera import hidden_from_the_service

    kind, _, where = spec.partition(":")
    if kind in ("video", "images") and unit.exists() and hidden_from_the_service(where):
        return Check("camera", FAIL, "doctor_camera_hidden", {"spec": spec})
    if open_source is None:
        from hardware.camera import open_source as open_hardware

        def open_source(spec: str) -> Any:
            return open_hardware(spec, speed=None)
    try:
        source = open_source(spec)
    except Exception as exc:  # noqa: BLE001 - whatever the driver says is the finding
        return Check("camera", FAIL, "doctor_camera_shut", {"spec": spec, "why": _said(exc)})
    try:
        deadline = time.monotonic() + FRAME_WAIT_S
        while time.monotonic() < deadline:
            frame = source.read()
            if frame is not None:
                height, width = frame.shape[:2]
                return Check("camera", OK, "doctor_camera_frames",
                             {"spec": spec, "width": width, "height": height})
        return Check("camera", FAIL, "doctor_camera_no_frame",
                     {"spec": spec, "seconds": f"{FRAME_WAIT_S:.0f}"})
    except Exception as exc:  # noqa: BLE001
        return Check("camera", FAIL, "doctor_camera_fails", {"spec": spec, "why": _said(exc)})
    finally:
        source.close()


def camera_of_the_kiosk(database: Path, now: datetime) -> Check:
    """The camera as the running kiosk reports it: its heartbeat and camera events."""
    try:
        conn = connect(database)
        try:
            health, lost = kiosk_health(conn, now), camera_lost(conn)
        finally:
            conn.close()
    except StoreUnavailable as exc:  # the database check says what is wrong with it
        return Check("camera", WARN, "doctor_camera_unheard", {"why": str(exc)})
    if health["status"] == "kiosk_stale":
        age = health["kiosk_heartbeat_age_s"]
        if age is None:
            return Check("camera", WARN, "doctor_camera_kiosk_starting")
        return Check("camera", FAIL, "doctor_camera_kiosk_stale", {"seconds": f"{age:.0f}"})
    if lost is not None:
        minutes = (now - datetime.fromisoformat(lost["since"])).total_seconds() / 60
        return Check("camera", FAIL, "doctor_camera_lost",
                     {"minutes": f"{max(minutes, 0):.1f}", "why": lost["reason"] or "?"})
    return Check("camera", OK, "doctor_camera_held")


def configured_pins(shelves: Sequence[Shelf], buzzer_pin: int | None) -> list[int]:
    """Every GPIO pin the configuration drives: slot LEDs, chain pins, the buzzer, and a
    74HC165 button chain's clock and load."""
    pins: list[int] = []
    for shelf in shelves:
        pins += list(shelf.led_of.values()) if shelf.leds == "gpio" else list(
            shelf.chain_pins.values())
        if shelf.buttons == "74hc165":
            pins += [shelf.button_pins["clock"], shelf.button_pins["load"]]
    return pins + ([buzzer_pin] if buzzer_pin else [])


def configured_inputs(shelves: Sequence[Shelf]) -> list[int]:
    """Every GPIO pin the configuration reads: slot buttons, a 74HC165 chain's data pin."""
    pins: list[int] = []
    for shelf in shelves:
        if shelf.buttons == "74hc165":
            pins.append(shelf.button_pins["data"])
        else:
            pins += list(shelf.button_of.values())
    return pins


def check_pins(pins: Sequence[int], database: Path, pin_factory: Any = None, *,
               inputs: Sequence[int] = ()) -> Check:
    """Each configured pin can be claimed (and is released again at once); ``inputs`` are
    claimed as inputs, never driven (a button or a chip drives them)."""
    if "run" in running(database):
        return Check("pins", OK, "doctor_pins_held")
    from gpiozero import DigitalInputDevice, DigitalOutputDevice

    from hardware.pins import default_pin_factory

    factory = pin_factory or default_pin_factory()
    if pin_factory is None and factory is not None:  # mock pins: no GPIO on this machine
        return Check("pins", WARN, "doctor_pins_no_gpio")
    busy = []
    claims = [(pin, lambda p: DigitalOutputDevice(p, pin_factory=factory)) for pin in pins] + [
        (pin, lambda p: DigitalInputDevice(p, pull_up=True, pin_factory=factory))
        for pin in inputs]  # pulled up, as the buttons are wired
    for pin, claim in claims:
        try:
            claim(pin).close()
        except Exception as exc:  # noqa: BLE001 - in use, no permission, no such pin
            busy.append(f"BCM {pin} ({_said(exc)})")
    if busy:
        return Check("pins", FAIL, "doctor_pins_busy", {"pins": "; ".join(busy)})
    every = [*pins, *inputs]
    return Check("pins", OK, "doctor_pins_free",
                 {"count": len(every), "pins": ", ".join(map(str, sorted(every)))})


def check_database(database: Path) -> Check:
    """PRAGMA quick_check, and the file's size."""
    started = time.monotonic()
    try:
        problems = integrity_problems(database, quick=True)
    except StoreUnavailable as exc:
        return Check("database", FAIL, "doctor_database_unavailable", {"why": str(exc)})
    took = time.monotonic() - started
    if problems:
        return Check("database", FAIL, "doctor_database_damaged", {"problem": problems[0]})
    size = database.stat().st_size
    return Check("database", OK, "doctor_database_sound",
                 {"took": f"{took:.1f}", "size": _mb(size)})


def check_disk(folder: Path) -> Check:
    """Free space where the database lives."""
    free = shutil.disk_usage(folder).free
    if free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, "doctor_disk_full", {"free": _mb(free), "folder": folder})
    if free < DISK_WARN_BYTES:
        return Check("disk", WARN, "doctor_disk_low", {"free": _mb(free), "folder": folder})
    return Check("disk", OK, "doctor_disk_free", {"free": _mb(free), "folder": folder})


def check_clock(flag: Path = SYNC_FLAG,
                ask: Callable[[Sequence[str]], str] | None = None) -> Check:
    """The clock is synchronised by NTP: notices, hours and the day's lists depend on it."""
    if flag.exists():
        return Check("clock", OK, "doctor_clock_timesyncd")
    try:
        answer = (ask or _output)(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("clock", WARN, "doctor_clock_unknown", {"why": _said(exc)})
    if answer.strip() == "yes":
        return Check("clock", OK, "doctor_clock_ntp")
    return Check("clock", FAIL, "doctor_clock_unsynced")


def check_timezone(configured: ZoneInfo, now: datetime, localtime: Path = LOCALTIME) -> Check:
    """The configured [community] timezone against the system's (journal times use it)."""
    try:
        system = str(localtime.resolve()).split("zoneinfo/", 1)[1]
    except (OSError, IndexError):
        return Check("timezone", WARN, "doctor_timezone_unknown", {"zone": configured.key})
    if system == configured.key:
        return Check("timezone", OK, "doctor_timezone_same", {"zone": system})
    zones = {"zone": configured.key, "system": system}
    if now.astimezone(ZoneInfo(system)).utcoffset() == now.astimezone(configured).utcoffset():
        return Check("timezone", OK, "doctor_timezone_same_time", zones)
    return Check("timezone", WARN, "doctor_timezone_differs", zones)


def channel_address(channel: ChannelConfig) -> tuple[str, int] | None:
    """Where a channel connects: the SMTP host, or the host of a webhook's URL."""
    options = channel.options
    if "url" in options:
        parts = urlsplit(str(options["url"]))
        if parts.hostname:
            return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    if "host" in options:
        return str(options["host"]), int(options.get("port", 25))
    return None


def check_channels(channels: Sequence[ChannelConfig]) -> list[Check]:
    """Each notice channel's host answers a connection (nothing is sent)."""
    if not channels:
        return [Check("channels", WARN, "doctor_channels_none")]
    checks = []
    for channel in channels:
        name = f"channel {channel.id}"
        address = channel_address(channel)
        if address is None:
            checks.append(Check(name, WARN, "doctor_channel_no_host"))
            continue
        host, port = address
        try:
            socket.create_connection(address, timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            checks.append(Check(name, FAIL, "doctor_channel_down",
                                {"host": host, "port": port, "why": _said(exc)}))
            continue
        checks.append(Check(name, OK, "doctor_channel_up", {"host": host, "port": port}))
    return checks


def check_tokens(tokens: Sequence[ApiToken]) -> Check:
    """Every bearer token for /api/* is named and scoped ([[web.tokens]], not api_tokens)."""
    unscoped = [t.name for t in tokens if t.legacy]
    if unscoped:
        return Check("tokens", WARN, "doctor_tokens_unscoped",
                     {"count": len(unscoped), "names": ", ".join(unscoped)})
    if not tokens:
        return Check("tokens", OK, "doctor_tokens_none")
    return Check("tokens", OK, "doctor_tokens_scoped",
                 {"count": len(tokens), "names": ", ".join(t.name for t in tokens)})


def check_services(booted: Path = SYSTEMD_BOOTED,
                   ask: Callable[[Sequence[str]], str] | None = None) -> list[Check]:
    """Each installed service as systemd sees it: running, or why not. Nothing without
    systemd, or for a unit not installed (a laptop, CI)."""
    if not booted.exists():
        return []
    try:
        answer = (ask or _output)(["systemctl", "show", *(f"{unit}.service" for unit in SERVICES),
                                   "--property", ",".join(UNIT_PROPERTIES)])
    except (OSError, subprocess.SubprocessError) as exc:
        return [Check("services", WARN, "doctor_services_unknown", {"why": _said(exc)})]
    blocks = [dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
              for block in answer.strip().split("\n\n")]
    return [service_check(unit, shown) for unit, shown in zip(SERVICES, blocks, strict=False)
            if shown.get("LoadState") == "loaded"]


def service_check(unit: str, shown: Mapping[str, str]) -> Check:
    """One service's line from what `systemctl show` says of it."""
    name, state, sub = f"service {unit}", shown.get("ActiveState"), shown.get("SubState")
    said = shown.get("StatusText", "")
    values = {"unit": unit, "status": said or sub}
    if state == "active":
        return Check(name, OK, "doctor_service_active" if said else "doctor_service_running",
                     values)
    if state == "failed" and shown.get("ExecMainStatus") == "2":
        return Check(name, FAIL, "doctor_service_config",
                     {**values, "status": said.removeprefix("stopped: ") or "?"})
    if state == "failed":
        return Check(name, FAIL, "doctor_service_failed",
                     {**values, "result": shown.get("Result", "?")})
    if sub == "auto-restart":
        return Check(name, FAIL, "doctor_service_restarting",
                     {**values, "restarts": shown.get("NRestarts", "?")})
    if state == "inactive":
        return Check(name, WARN, "doctor_service_stopped", values)
    return Check(name, WARN, "doctor_service_state", {**values, "state": f"{state} ({sub})"})


def check_backups(folder: Path, now: datetime) -> Check:
    """The newest backup is younger than two days."""
    age = backup_age(folder, now)
    if age is None:
        return Check("backups", WARN, "doctor_backups_none", {"folder": folder})
    hours = age.total_seconds() / 3600
    if age > BACKUP_MAX_AGE:
        return Check("backups", FAIL, "doctor_backups_old",
                     {"folder": folder, "days": f"{hours / 24:.1f}"})
    return Check("backups", OK, "doctor_backups_recent",
                 {"folder": folder, "hours": f"{hours:.1f}"})


# ---- the report --------------------------------------------------------------------------

def run_checks(config: Config, now: datetime) -> list[Check]:
    database = config.database
    checks = [check_camera(config.kiosk.camera, database, now=now),
              check_pins(configured_pins(config.layout.shelves, config.kiosk.buzzer_pin),
                         database, inputs=configured_inputs(config.layout.shelves)),
              check_database(database), check_disk(database.parent), check_clock(),
              check_timezone(config.community.timezone, now)]
    checks += check_channels(config.channels)
    checks.append(check_tokens(config.web.tokens))
    checks.append(check_backups(backup_dir(config), now))
    return checks + check_services()


def cmd_doctor(args: argparse.Namespace, clock: Clock,
               load: Callable[[argparse.Namespace], Config]) -> int:
    if getattr(args, "aim", None) is not None:
        from kiosk.app.aim import cmd_aim

        return cmd_aim(args, load(args))
    checks = run_checks(load(args), clock.now())
    failed = any(c.status == FAIL for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c.as_json() for c in checks]},
                         ensure_ascii=False))
    else:
        for check in checks:
            print(check.line())
    return 1 if failed else 0


def _output(command: Sequence[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True,
                          timeout=10).stdout


def _said(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text)
    return text + " " * max(0, width - len(text) - wide)
