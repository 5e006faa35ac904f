"""scripts/install into a temporary root, twice; the units checked by systemd's own tools.

The install needs root (a system user, files owned by it). Without root it is skipped, unless
``CI`` is set: there a missing tool or missing root fails, it never skips.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import load_config

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("shelf-kiosk.service", "shelf-notices.service", "shelf-web.service",
            "shelf-backup.service", "shelf-sync.service")
UNITS = (*SERVICES, "shelf-backup.timer")
MAX_EXPOSURE = 5.0  # systemd-analyze security: "OK" or better


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: scripts/setup-system --test installs it")
        pytest.skip(f"{tool} is not installed here")
    return found


def need_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the install test runs as root in CI")
        pytest.skip("installing needs root")


def exposure(unit: Path, *root: str) -> float:
    done = subprocess.run([need("systemd-analyze"), "security", "--offline=yes", *root,
                           str(unit)], capture_output=True, text=True)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    assert found, done.stdout + done.stderr
    return float(found[1])


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_hardened_to_an_exposure_of_5_or_less(service):
    assert exposure(REPO / "systemd" / service) <= MAX_EXPOSURE


def test_the_background_work_yields_the_cpu_to_the_kiosk():
    """The sync and the backup run niced: on a busy Pi a check-in never queues behind them."""
    from bench.servers import unit_nice

    kiosk = unit_nice("shelf-kiosk.service")
    assert kiosk == 0
    assert unit_nice("shelf-sync.service") > kiosk and unit_nice("shelf-backup.service") > kiosk


def test_the_kiosk_unit_is_a_notify_service_with_a_watchdog_and_its_devices():
    text = (REPO / "systemd" / "shelf-kiosk.service").read_text()
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=30", "Restart=on-failure",
                 "SupplementaryGroups=gpio video", "DevicePolicy=closed",
                 "DeviceAllow=char-gpiochip rw", "DeviceAllow=char-video4linux rw",
                 "StateDirectory=shelf", "ConfigurationDirectory=shelf", "CapabilityBoundingSet=",
                 "SystemCallFilter=@system-service", "ProtectSystem=strict", "PrivateTmp=yes"):
        assert line in text.splitlines(), line


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_memory_ceiling_and_no_swap(service):
    """A runaway (a list or a photo that costs gigabytes, a leak) gets its service stopped and
    restarted, not the Pi swapping to death: the ceilings are measured in systemd/README.md."""
    lines = (REPO / "systemd" / service).read_text().split("[Service]")[1].splitlines()
    ceiling = next((line for line in lines if line.startswith("MemoryMax=")), "")
    assert re.fullmatch(r"MemoryMax=\d+M", ceiling), service
    assert 128 <= int(ceiling[len("MemoryMax="):-1]) <= 1024
    assert "MemorySwapMax=0" in lines


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "shelf-backup.service"])
def test_a_failing_service_is_restarted_for_ever_but_not_a_configuration_error(service):
    """A relay down at boot, a crash, a hung camera driver: systemd's default start limit
    (5 starts in 10 s) would leave the unit dead until someone comes; these never give up.
    But exit 2 is a configuration error (the journal says which): retrying it every few
    seconds for ever cannot help, so it is not restarted. And a kiosk whose replayed camera
    ended (exit 0) is not started again: only a failure is (Restart=on-failure)."""
    text = (REPO / "systemd" / service).read_text()
    unit, lines = text.split("[Service]")[0].splitlines(), text.splitlines()
    assert "StartLimitIntervalSec=0" in unit
    assert "RestartPreventExitStatus=2" in lines
    kiosk = service == "shelf-kiosk.service"
    assert ("Restart=on-failure" if kiosk else "Restart=always") in lines


def test_the_staff_site_listens_on_this_machine_only():
    text = (REPO / "systemd" / "shelf-web.service").read_text()
    assert "ExecStart=/opt/shelf/venv/bin/shelf web --host 127.0.0.1 --port 8080" in text
    assert "0.0.0.0" not in text


def installer():
    """scripts/install as a module, for its decisions that need no systemd to be checked."""
    loader = importlib.machinery.SourceFileLoader("shelf_install", str(REPO / "scripts/install"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


WEB, KIOSK, NOTICES, TIMER = ("shelf-web.service", "shelf-kiosk.service",
                              "shelf-notices.service", "shelf-backup.timer")


def test_a_second_install_asks_nothing_of_units_up_or_on_their_way_up():
    """A kiosk still starting ("activating": before issue 19 it waited for its camera before
    READY) is on its way: `start` again would be a change said for nothing."""
    states = {WEB: "active", KIOSK: "activating", NOTICES: "reloading", TIMER: "active"}
    assert installer().service_actions(states, set()) == []
    # What new code restarts: shelf-sync too, on a gate of a compound (where it runs).
    assert installer().RUNNING_CODE == (WEB, KIOSK, NOTICES, "shelf-sync.service")


def test_a_change_restarts_the_units_it_concerns_whatever_their_state():
    """`start` on an activating unit leaves its old process be: a change restarts it; what is
    down is started, concerned or not."""
    states = {WEB: "active", KIOSK: "activating", NOTICES: "failed", TIMER: "inactive"}
    assert installer().service_actions(states, {WEB, KIOSK, NOTICES}) == [
        ("restart", WEB), ("restart", KIOSK), ("start", NOTICES), ("start", TIMER)]
    assert installer().service_actions(states, {KIOSK}) == [
        ("restart", KIOSK), ("start", NOTICES), ("start", TIMER)]


def test_on_a_pi_the_venv_keeps_debian_s_numpy():
    """Where the venv sees Debian's packages (a Pi), pip is held to numpy 1.x: a numpy 2 in
    the venv would shadow Debian's for picamera2's python3-simplejpeg too, built for 1.x."""
    constraints = REPO / installer().CONSTRAINTS
    assert "numpy<2" in constraints.read_text().splitlines()
    make = subprocess.run(["make", "-n", "-B", "VENV_FLAGS=--system-site-packages",
                           ".venv/.installed"], cwd=REPO, capture_output=True, text=True)
    pip = [line for line in make.stdout.splitlines() if "pip install" in line and "-e" in line]
    assert pip and all(f"--constraint {constraints.relative_to(REPO)}" in line for line in pip)
    make = subprocess.run(["make", "-n", "-B", "VENV_FLAGS=", ".venv/.installed"], cwd=REPO,
                          capture_output=True, text=True)
    assert "--constraint" not in make.stdout  # elsewhere the venv has its own numpy


def gate_command(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "DISPLAY",
                                                               "SHELF_GATE_URL")}
    done = subprocess.run([REPO / "scripts" / "gate-screen", "--print"], capture_output=True,
                          text=True, check=True, env={**clean, "HOME": "/home/pi", **env})
    return done.stdout.strip()


def test_the_gate_screen_is_chromium_in_kiosk_mode_on_the_gate_page():
    line = gate_command()
    assert re.match(r"^chromium(-browser)? --kiosk ", line), line
    assert line.endswith(" http://127.0.0.1:8080/gate")
    for flag in ("--noerrdialogs", "--disable-session-crashed-bubble", "--no-first-run",
                 "--disable-pinch",  # no zoom by a stray pinch (the page allows zooming)
                 "--user-data-dir=/home/pi/.config/shelf-gate-chromium"):
        assert flag in line.split(), flag
    assert "--ozone-platform=wayland" not in line
    assert "--ozone-platform=wayland" in gate_command(WAYLAND_DISPLAY="wayland-0").split()
    assert gate_command(SHELF_GATE_URL="http://127.0.0.1:9000/gate").endswith(":9000/gate")


def test_init_puts_the_database_where_asked(tmp_path):
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "init", str(tmp_path / "etc"),
                           "--group-readable", "--database", str(tmp_path / "state/shelf.db")],
                          capture_output=True, text=True, env={**os.environ, "SHELF_LANG": "en"})
    assert done.returncode == 0, done.stderr
    config = load_config(tmp_path / "etc" / "config.toml")
    assert config.database == tmp_path / "state" / "shelf.db"
    assert stat.S_IMODE(config.database.stat().st_mode) == 0o640
    assert not (tmp_path / "etc" / "shelf.db").exists()


def seed_root(root: Path) -> None:
    """A bare system under ``root``: its users, and systemd's own units for `verify`."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                "pi:x:1000:1000:,,,:/home/pi:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\nvideo:x:44:pi\npi:x:1000:\n")
    (etc / "shadow").write_text("root:*:20000:0:99999:7:::\npi:*:20000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\nvideo:*::pi\npi:*::\n")
    for secret in ("shadow", "gshadow"):
        (etc / secret).chmod(0o600)
    (root / "home" / "pi").mkdir(parents=True)
    os.chown(root / "home" / "pi", 1000, 1000)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root``: mode, owner, and content's checksum."""
    seen = {}
    for item in sorted(root.rglob("*")):
        st = item.lstat()
        digest = (hashlib.sha256(item.read_bytes()).hexdigest()
                  if stat.S_ISREG(st.st_mode) else os.readlink(item) if item.is_symlink() else "")
        seen[item.relative_to(root).as_posix()] = (st.st_mode, st.st_uid, st.st_gid, digest)
    return seen


def install(root: Path, script: str = "install") -> subprocess.CompletedProcess:
    done = subprocess.run([REPO / "scripts" / script, "--root", str(root), "--no-start",
                           "--desktop-user", "pi"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def owner(path: Path) -> tuple[int, str, str]:
    st = path.stat()
    return stat.S_IMODE(st.st_mode), str(st.st_uid), str(st.st_gid)


def ids(root: Path, database: str, name: str) -> str:
    line = next(line for line in (root / "etc" / database).read_text().splitlines()
                if line.startswith(f"{name}:"))
    return line.split(":")[2]


def test_install_twice_changes_nothing_and_uninstall_keeps_the_data(tmp_path):
    need_root()
    for tool in ("useradd", "groupadd", "systemctl", "systemd-analyze"):
        need(tool)
    root = tmp_path / "pi"
    seed_root(root)

    first = install(root)
    assert "install: made the system user shelf" in first.stdout
    assert first.stdout.splitlines()[-1].endswith("changes")
    uid, gid = ids(root, "passwd", "shelf"), ids(root, "group", "shelf")
    assert ids(root, "group", "gpio")  # the kiosk unit's SupplementaryGroups must exist

    # The configuration: written by `shelf init`, secrets its own, for root and group shelf.
    config_file = root / "etc/shelf/config.toml"
    assert owner(config_file) == (0o640, "0", gid)
    assert owner(root / "etc/shelf") == (0o750, "0", gid)
    text = config_file.read_text()
    assert 'path = "/var/lib/shelf/shelf.db"' in text
    assert "$label_secret" not in text and "$web_secret" not in text
    assert re.search(r'^secret = "[\w-]{24,}"', text, re.M)
    # The database under the state directory, the shelf user's.
    assert owner(root / "var/lib/shelf") == (0o750, uid, gid)
    assert owner(root / "var/lib/shelf/shelf.db") == (0o640, uid, gid)
    # The venv sees Debian's lgpio and picamera2, and runs; its numpy is 1.x, as Debian's.
    venv = root / "opt/shelf/venv"
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    assert subprocess.run([venv / "bin/shelf", "--help"], capture_output=True).returncode == 0
    numpy = subprocess.run([venv / "bin/python", "-c", "import cv2, numpy; "
                            "print(numpy.__version__)"], capture_output=True, text=True)
    assert numpy.stdout.startswith("1."), numpy.stdout + numpy.stderr
    # The units, enabled.
    for unit in SERVICES[:3]:
        assert (root / "etc/systemd/system/multi-user.target.wants" / unit).is_symlink()
    assert (root / "etc/systemd/system/timers.target.wants/shelf-backup.timer").is_symlink()
    # The gate screen at the desktop user's login.
    autostart = root / "home/pi/.config/labwc/autostart"
    assert "/opt/shelf/src/scripts/gate-screen &" in autostart.read_text().splitlines()
    assert owner(autostart) == (0o644, "1000", "1000")
    assert os.access(root / "opt/shelf/src/scripts/gate-screen", os.X_OK)

    before = snapshot(root)
    second = install(root)
    assert second.stdout.splitlines() == ["install: no change: everything was in place"]
    assert snapshot(root) == before

    # The gate joins a compound: the next install enables its sync (the unit is there already).
    sync_wants = root / "etc/systemd/system/multi-user.target.wants/shelf-sync.service"
    assert not sync_wants.exists()
    config_file.write_text(text.replace("[community]\n", '[community]\nid = "sample-garden"\n')
                           + '\n[gate]\nid = "north"\n\n[centre]\nurl = "https://centre.example"'
                           f'\ntoken = "{secrets.token_urlsafe(32)}"\n')
    assert load_config(config_file).centre.url == "https://centre.example"
    joined = install(root)
    assert "install: enabled shelf-sync.service" in joined.stdout.splitlines()
    assert sync_wants.is_symlink()
    config_file.write_text(text)

    for unit in UNITS:
        done = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                               f"/etc/systemd/system/{unit}"], capture_output=True, text=True)
        assert (done.returncode, done.stdout + done.stderr) == (0, ""), unit
    for unit in SERVICES:
        assert exposure(Path(unit), f"--root={root}") <= MAX_EXPOSURE, unit

    gone = install(root, "uninstall")
    assert "removed shelf-kiosk.service" in gone.stdout
    for unit in UNITS:
        assert not (root / "etc/systemd/system" / unit).exists()
    assert not list((root / "etc/systemd/system").rglob("shelf-*"))
    assert not (root / "opt/shelf").exists() and not (root / "usr/local/bin/shelf").exists()
    assert "gate-screen" not in autostart.read_text()
    assert config_file.read_text() == text  # the data stays
    assert (root / "var/lib/shelf/shelf.db").stat().st_size > 0
