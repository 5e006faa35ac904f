"""The shelf on Debian Bookworm booted with systemd 252 (as Raspberry Pi OS Bookworm has it):
installed from the working tree with `scripts/install`, then checked the way a gate is lived
with. Each check returns a Verdict; one that leaves nothing to go on raises MachineError.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bench.platform.machine import Booted, MachineError
from bench.proofs.verdict import Verdict

T = TypeVar("T")
SERVICES = ("shelf-kiosk", "shelf-web", "shelf-notices")
UNITS = (*(f"{s}.service" for s in SERVICES), "shelf-backup.timer")
INSTALL = "cd /root/shelf && scripts/install 2>&1"
CONFIG = "/etc/shelf/config.toml"
REPLAY = "/srv/shelf/gate.avi"  # where the docs say a replay goes: the service sees /srv
READY_WITHIN_S = 60  # the kiosk's READY after a restart on a replay (it takes seconds)
WATCHDOG_WITHIN_S = 90  # WatchdogSec=30, then SIGABRT, TimeoutStopSec=15 and RestartSec=3
# Made in the machine by its venv's Python: labels signed with its own config's secret.
WRITE_VIDEO = """
import sys
from pathlib import Path
from kiosk.app.sim.label_video import Scene, write_label_video
from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
secret = load_config("/etc/shelf/config.toml").label_secret
scenes = [Scene(make_label(secret, HouseholdId.parse(h)), h) for h in sys.argv[2:]]
write_label_video(Path(sys.argv[1]), scenes, hold_s=1.0, gap_s=2.5)
"""
HEALTHZ = """
import json, urllib.error, urllib.request
try:
    answer = urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=5)
    print(answer.status, answer.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode())
except OSError as exc:
    print(0, json.dumps({"status": str(exc)}))
"""


@dataclass
class Gate:
    """The booted machine, and what the checks learnt on the way (timings, PIDs)."""

    machine: Booted
    timings: dict[str, float] = field(default_factory=dict)

    def sh(self, script: str, **kwargs) -> str:
        return self.machine.sh(script, **kwargs).stdout

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        """`systemctl show` of ``unit``: its properties as a dict."""
        said = self.sh(f"systemctl show {unit} --property={','.join(properties)}")
        return dict(line.partition("=")[::2] for line in said.splitlines())

    def states(self) -> dict[str, str]:
        said = self.machine.sh(f"systemctl is-active {' '.join(UNITS)}", check=False).stdout
        return dict(zip(UNITS, said.split(), strict=False))

    def healthz(self) -> tuple[int, dict]:
        code, _, body = self.sh(f"python3 -c {shlex.quote(HEALTHZ)}").strip().partition(" ")
        return int(code), json.loads(body)

    def doctor(self) -> dict[str, dict[str, str]]:
        """`shelf doctor --json` as the operator runs it (sudo shelf ...): check by name."""
        said = self.machine.sh("shelf doctor --json", check=False).stdout
        return {c["name"]: c for c in json.loads(said)["checks"]}

    def configure(self, **settings: str) -> None:
        """Set [kiosk] keys in the config (root's file, group shelf: edited in place)."""
        edit = ("import re, sys; p = sys.argv[1]; t = open(p).read()\n"
                "for kv in sys.argv[2:]:\n"
                "    k, v = kv.split('=', 1)\n"
                "    t = re.sub(rf'(?m)^{k} = .*$', f'{k} = {v}', t, count=1)\n"
                "open(p, 'w').write(t)")
        pairs = " ".join(shlex.quote(f"{k}={json.dumps(v)}") for k, v in settings.items())
        self.sh(f"python3 -c {shlex.quote(edit)} {CONFIG} {pairs}")

    def kiosk_ready(self, timeout: float = READY_WITHIN_S) -> dict[str, str] | None:
        """The kiosk once it is up and scanning (None if it is not within ``timeout``)."""
        return wait_until(lambda: _scanning(self.show(
            "shelf-kiosk.service", "ActiveState", "StatusText", "MainPID")), timeout)

    def expected(self) -> list[str]:
        """The tracking numbers announced in the database (read as root, read-only)."""
        query = ("import sqlite3; c = sqlite3.connect('file:/var/lib/shelf/shelf.db?mode=ro', "
                 "uri=True); print(' '.join(r[0] for r in c.execute('SELECT code FROM "
                 "expected ORDER BY code')))")
        return self.sh(f"python3 -c {shlex.quote(query)}").split()


def wait_until(probe: Callable[[], T | None], timeout: float, every: float = 0.5) -> T | None:
    """``probe()``'s first true answer within ``timeout`` seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found or None
        time.sleep(every)


def _scanning(shown: dict[str, str]) -> dict[str, str] | None:
    ready = shown.get("ActiveState") == "active" and shown.get("StatusText") == "scanning"
    return shown if ready else None


def _all_active(gate: Gate) -> str:
    """"" when every unit is active, else which are not."""
    return ", ".join(f"{u} {s}" for u, s in gate.states().items() if s != "active")


# ---- the checks, in order: each leaves the gate as the next expects it --------------------

def first_install(gate: Gate) -> Verdict:
    """`scripts/install` on a fresh system: packages, user, venv, config, units, started."""
    started = time.monotonic()
    said = gate.sh(INSTALL, timeout=1800)
    gate.timings["install"] = time.monotonic() - started
    last = said.strip().splitlines()[-1]
    down = "" if wait_until(lambda: not _all_active(gate), 60) else _all_active(gate)
    numpy = gate.sh("/opt/shelf/venv/bin/python -c 'import numpy; print(numpy.__file__)'")
    debian = numpy.startswith("/usr/lib/python3/dist-packages/")
    return Verdict(last.endswith(" changes") and not down and debian,
                   f"{last} in {gate.timings['install']:.0f} s; "
                   + (f"not active: {down}" if down else "every unit active")
                   + ("; the venv uses Debian's numpy" if debian else f"; numpy from {numpy}"))


def no_camera_at_boot(gate: Gate) -> Verdict:
    """Rebooted with no camera (device:0, no /dev/video0): the boot finishes all the same,
    the kiosk is up and waiting, /healthz and `shelf doctor` say camera_lost."""
    started = time.monotonic()
    gate.machine.reboot()
    state = gate.machine.wait_booted()
    gate.timings["boot without a camera"] = time.monotonic() - started
    kiosk = gate.show("shelf-kiosk.service", "ActiveState", "StatusText")
    code, health = wait_until(lambda: _answered(gate), 60) or (0, {})
    camera = gate.doctor().get("camera", {})
    ok = (state in ("running", "degraded") and kiosk["ActiveState"] == "active"
          and kiosk["StatusText"].startswith("waiting for the camera")
          and (code, health.get("status")) == (503, "camera_lost")
          and camera.get("status") == "FAIL" and "camera_lost" in camera.get("detail", ""))
    return Verdict(ok, f"is-system-running: {state} after "
                       f"{gate.timings['boot without a camera']:.0f} s; kiosk "
                       f"{kiosk['ActiveState']} ({kiosk['StatusText']}); /healthz {code} "
                       f"{health.get('status')}; doctor: {camera.get('status')} "
                       f"{camera.get('detail')}")


def _answered(gate: Gate) -> tuple[int, dict] | None:
    """/healthz once the kiosk has beaten (the first beat comes at its first turn)."""
    code, health = gate.healthz()
    return (code, health) if health.get("kiosk_heartbeat_age_s") is not None else None


def second_install(gate: Gate) -> Verdict:
    """Again, nothing changed, while the kiosk waits for its camera: no change at all."""
    before = gate.show("shelf-kiosk.service", "MainPID")["MainPID"]
    said = gate.sh(INSTALL).strip().splitlines()
    after = gate.show("shelf-kiosk.service", "MainPID")["MainPID"]
    ok = said[-1] == "install: no change: everything was in place" and before == after
    return Verdict(ok, f"'{said[-1]}'; kiosk PID {before} -> {after}")


def replayed_camera(gate: Gate) -> Verdict:
    """A replay in /srv looping as the service's camera: READY within seconds, parcels checked
    in, /healthz 200, `shelf doctor`'s camera line agreeing."""
    gate.sh(f"mkdir -p /srv/shelf && /opt/shelf/venv/bin/python -c {shlex.quote(WRITE_VIDEO)} "
            f"{REPLAY} 24-2304 24-2403 && chmod 644 {REPLAY}")
    gate.configure(camera=f"video:{REPLAY}", replay="loop")
    started = time.monotonic()
    gate.sh("systemctl restart shelf-kiosk")  # Type=notify: returns at READY=1
    gate.timings["READY on a replay"] = time.monotonic() - started
    ready = gate.kiosk_ready()
    parcels = wait_until(lambda: len(_parcels(gate)) >= 2 and _parcels(gate), 60) or []
    code, health = wait_until(lambda: _healthy(gate), 60) or gate.healthz()
    camera = gate.doctor().get("camera", {})
    ok = (ready is not None and gate.timings["READY on a replay"] < READY_WITHIN_S
          and len(parcels) >= 2 and code == 200 and camera.get("status") == "ok")
    return Verdict(ok, f"READY {gate.timings['READY on a replay']:.1f} s after the restart "
                       f"(goal {READY_WITHIN_S} s), status {ready and ready['StatusText']!r}; "
                       f"checked in {', '.join(parcels)}; /healthz {code} "
                       f"{health.get('status')}; doctor: {camera.get('status')} "
                       f"{camera.get('detail')}")


def _parcels(gate: Gate) -> list[str]:
    query = ("import sqlite3; c = sqlite3.connect('file:/var/lib/shelf/shelf.db?mode=ro', "
             "uri=True); print(' '.join(f'{h}@{s}' for h, s in c.execute("
             "'SELECT household_id, slot_code FROM parcels ORDER BY id')))")
    return gate.sh(f"python3 -c {shlex.quote(query)}").split()


def _healthy(gate: Gate) -> tuple[int, dict] | None:
    code, health = gate.healthz()
    return (code, health) if code == 200 else None


def every_unit_active(gate: Gate) -> Verdict:
    down = _all_active(gate)
    return Verdict(not down, f"not active: {down}" if down else ", ".join(UNITS) + " active")


def watchdog(gate: Gate) -> Verdict:
    """SIGSTOP the kiosk: no more WATCHDOG=1, so systemd kills and restarts it."""
    before = gate.show("shelf-kiosk.service", "MainPID", "NRestarts")
    started = time.monotonic()
    gate.sh(f"kill -STOP {before['MainPID']}")
    restarted = wait_until(lambda: _restarted(gate, before["MainPID"]), WATCHDOG_WITHIN_S)
    gate.timings["watchdog restart"] = time.monotonic() - started
    ready = gate.kiosk_ready()
    result = gate.sh("journalctl -u shelf-kiosk -n 200 --no-pager | grep -m1 -o "
                     "'Watchdog timeout.*' || true").strip()
    return Verdict(restarted is not None and ready is not None,
                   f"PID {before['MainPID']} stopped; "
                   + (f"restarted as PID {restarted} after "
                      f"{gate.timings['watchdog restart']:.0f} s ({result or 'no journal line'})"
                      if restarted else f"not restarted within {WATCHDOG_WITHIN_S} s")
                   + (", scanning again" if ready else ", not scanning again"))


def _restarted(gate: Gate, old_pid: str) -> str | None:
    pid = gate.show("shelf-kiosk.service", "MainPID")["MainPID"]
    return pid if pid not in ("0", old_pid) else None


def code_change(gate: Gate) -> Verdict:
    """A change to the code, installed: the kiosk runs the new code (a new process)."""
    before = gate.show("shelf-kiosk.service", "MainPID")["MainPID"]
    gate.sh("echo '# changed by the platform proof' >> /root/shelf/kiosk/__init__.py")
    said = gate.sh(INSTALL).strip().splitlines()
    after = gate.kiosk_ready()
    restarted = [line for line in said if line.startswith("install: restarted")]
    ok = ("install: restarted shelf-kiosk.service" in said and after is not None
          and after["MainPID"] != before)
    return Verdict(ok, f"{'; '.join(restarted) or said[-1]}; kiosk PID {before} -> "
                       f"{after and after['MainPID']}")


def backup_and_restore(gate: Gate) -> Verdict:
    """shelf-backup.service makes a checked copy; `shelf restore --stop` puts it back: what
    was announced after the backup is gone, what was before is there."""
    gate.sh("shelf expect --household 24-2304 --code PLATFORM-BEFORE")
    gate.sh("systemctl start shelf-backup.service")  # Type=oneshot: returns when done
    backup = gate.sh("ls -1 /var/lib/shelf/backups/shelf-*.db | tail -n 1").strip()
    result = gate.show("shelf-backup.service", "Result")["Result"]
    gate.sh("shelf expect --household 24-2403 --code PLATFORM-AFTER")
    restore = gate.machine.sh(f"shelf restore {backup} --stop", check=False)
    gate.sh("systemctl start shelf-kiosk shelf-notices shelf-web")
    codes = gate.expected()
    ready = gate.kiosk_ready()
    ok = (result == "success" and backup != "" and restore.returncode == 0
          and codes == ["PLATFORM-BEFORE"] and ready is not None and not _all_active(gate))
    return Verdict(ok, f"backup {backup} ({result}); restore exit {restore.returncode}; "
                       f"announced after it: {codes}; services started again")


def configuration_error(gate: Gate) -> Verdict:
    """A replay where the service cannot see it (ProtectHome): exit 2, not restarted, said in
    the journal and by `shelf doctor`. Then the right one again."""
    gate.configure(camera="images:/home/pi/labels")
    gate.machine.sh("systemctl restart shelf-kiosk", check=False)  # the start fails
    time.sleep(15)  # five RestartSec=3 later: restarted for ever, before issue 19
    shown = gate.show("shelf-kiosk.service", "ActiveState", "ExecMainStatus", "NRestarts")
    error = gate.sh("journalctl -u shelf-kiosk -n 50 --no-pager -o cat | grep -m1 "
                    "'put replays in' || true").strip()
    service = gate.doctor().get("service shelf-kiosk", {})
    gate.configure(camera=f"video:{REPLAY}")
    gate.sh("systemctl restart shelf-kiosk")
    back = gate.kiosk_ready()
    ok = ((shown["ActiveState"], shown["ExecMainStatus"], shown["NRestarts"])
          == ("failed", "2", "0") and "put replays in /var/lib/shelf or /srv" in error
          and service.get("status") == "FAIL" and "configuration error" in service["detail"]
          and back is not None)
    return Verdict(ok, f"{shown['ActiveState']}, exit {shown['ExecMainStatus']}, "
                       f"{shown['NRestarts']} restarts in 15 s; journal: {error}; doctor: "
                       f"{service.get('status')} {service.get('detail')}")


def replay_ends(gate: Gate) -> Verdict:
    """A replay played once: its end is a clean stop, left be (no restart every 3 s)."""
    gate.sh(f"/opt/shelf/venv/bin/python -c {shlex.quote(WRITE_VIDEO)} /srv/shelf/once.avi "
            "24-2304 && chmod 644 /srv/shelf/once.avi")
    gate.configure(camera="video:/srv/shelf/once.avi", replay="once")
    gate.sh("systemctl restart shelf-kiosk")
    stopped = wait_until(lambda: gate.show("shelf-kiosk.service", "ActiveState")[
        "ActiveState"] == "inactive", 60)
    time.sleep(10)
    shown = gate.show("shelf-kiosk.service", "ActiveState", "Result", "NRestarts", "StatusText")
    gate.configure(camera=f"video:{REPLAY}", replay="loop")
    gate.sh("systemctl restart shelf-kiosk")
    back = gate.kiosk_ready()
    ok = (stopped and (shown["ActiveState"], shown["Result"], shown["NRestarts"])
          == ("inactive", "success", "0") and back is not None)
    return Verdict(ok, f"{shown['ActiveState']} ({shown['Result']}), {shown['NRestarts']} "
                       f"restarts 10 s after: {shown['StatusText']}")


def reboot(gate: Gate) -> Verdict:
    """A reboot (a power cut, an update): everything comes back by itself."""
    started = time.monotonic()
    gate.machine.reboot()
    state = gate.machine.wait_booted()
    ready = gate.kiosk_ready()
    gate.timings["reboot to scanning"] = time.monotonic() - started
    code, health = wait_until(lambda: _healthy(gate), 60) or gate.healthz()
    down = _all_active(gate)
    return Verdict(state in ("running", "degraded") and ready is not None and code == 200
                   and not down,
                   f"is-system-running: {state}; kiosk scanning "
                   f"{gate.timings['reboot to scanning']:.0f} s after the reboot; /healthz "
                   f"{code} {health.get('status')}; "
                   + (f"not active: {down}" if down else "every unit active"))


CHECKS: list[Callable[[Gate], Verdict]] = [
    first_install, no_camera_at_boot, second_install, replayed_camera, every_unit_active,
    watchdog, code_change, backup_and_restore, configuration_error, replay_ends, reboot,
]


def run(machine: Booted, say: Callable[[str, Verdict, float], None]) -> tuple[bool, dict]:
    """Every check in order; stop at one that leaves nothing to go on. True if all held."""
    gate, ok = Gate(machine), True
    for check in CHECKS:
        started = time.monotonic()
        try:
            verdict = check(gate)
        except (MachineError, OSError, ValueError, KeyError) as exc:
            say(check.__name__, Verdict(False, f"could not run: {exc}"),
                time.monotonic() - started)
            return False, gate.timings
        ok &= verdict.ok
        say(check.__name__, verdict, time.monotonic() - started)
    return ok, gate.timings
