"""Run the platform proof: one line per check, the timings at the end, exit 1 on a failure.

    sudo python -m bench.platform               both parts
    sudo python -m bench.platform systemd       only Debian booted with systemd (amd64)
    sudo python -m bench.platform arm64         only the Pi's CPU (arm64 under qemu-user)
    --cache DIR   where the debootstrapped systems, pip's and apt's downloads are kept
                  (default $SHELF_PLATFORM_CACHE, else /var/cache/shelf-platform)
    --keep        leave the machines' folders (under DIR/run) for a look afterwards
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from bench.platform import arm64, booted
from bench.platform.machine import Base, Booted, MachineError, arm64_ready, copy_machine, needs
from bench.proofs.verdict import Verdict

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = Path("/var/cache/shelf-platform")
# What Raspberry Pi OS Bookworm has and minbase lacks: systemd as init, D-Bus, Python with
# venv, Debian's numpy (picamera2 brings it on a Pi). The rest comes from scripts/install.
AMD64 = Base("amd64", ("systemd", "systemd-sysv", "dbus", "python3", "python3-venv",
                       "python3-numpy", "ca-certificates"))
# Not booted: systemd only for `systemctl enable`; python3-bottleneck is a Debian module
# built against Debian's numpy, as python3-simplejpeg (picamera2's) is on a Pi.
ARM64 = Base("arm64", ("systemd", "python3", "python3-venv", "python3-numpy",
                       "python3-bottleneck", "ca-certificates"))
PARTS = ("systemd", "arm64")


def say(name: str, verdict: Verdict, seconds: float) -> None:
    print(f"{name}: {'ok' if verdict.ok else 'FAILED'}: {verdict.line} [{seconds:.0f} s]",
          flush=True)


def prepare(base: Base, cache: Path, run: Path) -> float:
    """The base system (debootstrapped unless cached) copied to ``run``; seconds it took."""
    started = time.monotonic()
    cached = base.made(cache)
    base.make(cache)
    made = time.monotonic() - started
    copy_machine(base.folder(cache), run, REPO)
    say(f"{base.arch} system", Verdict(True, (
        f"cached in {base.folder(cache)}" if cached
        else f"debootstrapped into {base.folder(cache)} in {made:.0f} s")
        + f"; copied with the working tree to {run}"), time.monotonic() - started)
    return made


def port_taken(port: int = 8080) -> bool:
    """The machine shares this host's network: its staff site needs 127.0.0.1:8080 free."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def prove_systemd(cache: Path, keep: bool) -> tuple[bool, dict]:
    if port_taken():
        raise MachineError("127.0.0.1:8080 is in use on this host, and the machine shares the "
                           "host's network (its staff site listens there): free it first")
    run = cache / "run" / "shelf-pi"
    made = prepare(AMD64, cache, run)
    machine = Booted(run, "shelf-pi", {cache / "pip-amd64": "/root/.cache/pip",
                                       cache / "apt-amd64": "/var/cache/apt/archives"},
                     cache / "run" / "shelf-pi.console")
    started = time.monotonic()
    try:
        machine.boot()
        state = machine.wait_booted()
        say("boot", Verdict(state in ("running", "degraded"),
                            f"systemd-nspawn -b: is-system-running says {state}"),
            time.monotonic() - started)
        ok, timings = booted.run(machine, say)
    finally:
        machine.poweroff()
        if not keep:
            shutil.rmtree(run, ignore_errors=True)
    return ok, {"debootstrap amd64": made, **timings}


def prove_arm64(cache: Path, keep: bool) -> tuple[bool, dict]:
    done = arm64_ready()
    if done:
        print(f"arm64: {done} (qemu-user-static runs arm64 binaries)", flush=True)
    run = cache / "run" / "shelf-arm64"
    made = prepare(ARM64, cache, run)
    try:
        ok, timings = arm64.run(arm64.Arm64(run, {cache / "pip-arm64": "/root/.cache/pip",
                                                  cache / "apt-arm64": "/var/cache/apt/archives"}),
                                say)
    finally:
        if not keep:
            shutil.rmtree(run, ignore_errors=True)
    return ok, {"debootstrap arm64": made, **timings}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.platform",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", metavar="PART", help="systemd, arm64 (default: both)")
    parser.add_argument("--cache", type=Path, default=Path(
        os.environ.get("SHELF_PLATFORM_CACHE", DEFAULT_CACHE)))
    parser.add_argument("--keep", action="store_true", help="keep the machines' folders")
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"no part called {', '.join(sorted(unknown))}; there are: {', '.join(PARTS)}")
    missing = needs()
    if missing:
        print(f"platform: this needs {', '.join(missing)}; on Debian 12: "
              "apt install debootstrap systemd-container qemu-user-static", flush=True)
        return 2
    started, ok, timings = time.monotonic(), True, {}
    for part, prove in (("systemd", prove_systemd), ("arm64", prove_arm64)):
        if args.parts and part not in args.parts:
            continue
        try:
            held, taken = prove(args.cache.resolve(), args.keep)
        except (MachineError, OSError) as exc:
            say(part, Verdict(False, f"could not run: {exc}"), 0)
            held, taken = False, {}
        ok &= held
        timings.update(taken)
    figures = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    print(f"platform: {'all held' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s"
          f" ({figures})", flush=True)
    return 0 if ok else 1
