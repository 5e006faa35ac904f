"""The shelf on the Pi's CPU: Debian Bookworm arm64 under qemu-user, not booted. The Pi's
install (`scripts/install --no-start`: a venv that sees Debian's packages), then the commands
a gate runs, on mock pins and a replayed camera. Debian's numpy (python3-numpy) must stay the
one the venv imports, and a Debian module built against it (python3-bottleneck, as
python3-simplejpeg is for picamera2 on a Pi) must import from the venv.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path

from bench.platform.machine import MachineError, run_unbooted
from bench.proofs.verdict import Verdict

SHELF = "/opt/shelf/venv/bin/shelf --config /root/community/config.toml"
PYTHON = "/opt/shelf/venv/bin/python"
DEBIAN_MODULE = ("import bottleneck, numpy; "
                 "print(numpy.__version__, numpy.__file__, bottleneck.__file__, "
                 "bottleneck.nansum(numpy.array([1.0, numpy.nan, 2.0])))")
WRITE_VIDEO = """
from pathlib import Path
from kiosk.app.sim.label_video import Scene, write_label_video
from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
secret = load_config("/root/community/config.toml").label_secret
scenes = [Scene(make_label(secret, HouseholdId.parse(h)), h) for h in ("24-2304", "24-2403")]
write_label_video(Path("/root/gate.avi"), scenes, hold_s=1.0, gap_s=1.0)
"""

PARCELS = ("import sqlite3; c = sqlite3.connect('/root/community/shelf.db'); "
           "print(' '.join(f'{h}@{s}' for h, s in c.execute("
           "'SELECT household_id, slot_code FROM parcels ORDER BY id')))")


class Arm64:
    """The arm64 machine folder; each command is a `systemd-nspawn` run under qemu-user."""

    def __init__(self, root: Path, binds: dict[Path, str]) -> None:
        self.root, self.binds = root, binds
        self.timings: dict[str, float] = {}

    def sh(self, script: str, *env: str) -> str:
        return run_unbooted(self.root, script, binds=self.binds,
                            env=("SHELF_LANG=en", *env)).stdout


def install(arm: Arm64) -> Verdict:
    """The Pi's install, as on a Pi (no systemd runs here: nothing is started)."""
    started = time.monotonic()
    said = arm.sh("/root/shelf/scripts/install 2>&1").strip().splitlines()
    arm.timings["arm64 install"] = time.monotonic() - started
    machine = arm.sh("uname -m").strip()
    opencv = arm.sh(f"{PYTHON} -c 'import cv2, zxingcpp, pyzbar.pyzbar; print(cv2.__version__)'")
    return Verdict(said[-1].endswith(" changes") and machine == "aarch64",
                   f"{machine}: {said[-1]} in {arm.timings['arm64 install']:.0f} s; "
                   f"OpenCV {opencv.strip()}, zxing-cpp and pyzbar import")


def debian_numpy(arm: Arm64) -> Verdict:
    """The venv imports Debian's numpy 1.24, and python3-bottleneck built against it."""
    version, numpy, bottleneck, total = arm.sh(
        f"{PYTHON} -c {shlex.quote(DEBIAN_MODULE)}").split()
    ok = (version.startswith("1.") and numpy.startswith("/usr/lib/python3/dist-packages/")
          and bottleneck.startswith("/usr/lib/python3/dist-packages/") and total == "3.0")
    return Verdict(ok, f"numpy {version} from {numpy}; bottleneck from {bottleneck}: "
                       f"nansum {total}")


def commands(arm: Arm64) -> Verdict:
    """init, label, scan --json, selftest on mock pins, run on a replayed video."""
    said = []
    arm.sh("rm -rf /root/community && /opt/shelf/venv/bin/shelf init /root/community "
           "--admin-password 'platform proof 2304'")
    said.append("init")
    payload = arm.sh(f"{SHELF} label --household 24-2304 --png /root/label.png").strip()
    said.append(f"label {payload.rsplit(':', 2)[0]}:...")
    scanned = json.loads(arm.sh(f"{SHELF} scan --json /root/label.png"))
    said.append(f"scan --json: {scanned.get('action')} {scanned.get('slots')}")
    lit = arm.sh(f"{SHELF} selftest --seconds 0.05", "GPIOZERO_PIN_FACTORY=mock")
    said.append(f"selftest: {len(lit.splitlines())} lines")
    arm.sh(f"{PYTHON} -c {shlex.quote(WRITE_VIDEO)}")
    started = time.monotonic()
    arm.sh(f"{SHELF} run --camera video:/root/gate.avi", "GPIOZERO_PIN_FACTORY=mock")
    arm.timings["arm64 run on a 4 s video"] = time.monotonic() - started
    parcels = arm.sh(f"{PYTHON} -c {shlex.quote(PARCELS)}").split()
    said.append(f"run: exit 0 in {arm.timings['arm64 run on a 4 s video']:.0f} s, "
                f"parcels {' '.join(parcels)}")
    ok = (scanned.get("action") == "checkin" and len(lit.splitlines()) >= 28
          and [p.split("@")[0] for p in parcels] == ["24-2304", "24-2304", "24-2403"])
    return Verdict(ok, "; ".join(said))


CHECKS: list[Callable[[Arm64], Verdict]] = [install, debian_numpy, commands]


def run(arm: Arm64, say: Callable[[str, Verdict, float], None]) -> tuple[bool, dict]:
    ok = True
    for check in CHECKS:
        started = time.monotonic()
        try:
            verdict = check(arm)
        except (MachineError, OSError, ValueError, KeyError) as exc:
            say(f"arm64 {check.__name__}", Verdict(False, f"could not run: {exc}"),
                time.monotonic() - started)
            return False, arm.timings
        ok &= verdict.ok
        say(f"arm64 {check.__name__}", verdict, time.monotonic() - started)
    return ok, arm.timings
