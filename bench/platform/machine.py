"""Debian Bookworm in a folder: debootstrapped once (cached), copied for each run, then booted
with `systemd-nspawn -b` (systemd as its PID 1) or entered without booting (arm64 under
qemu-user). The host needs no systemd of its own: `--keep-unit --register=no`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENV = ("PATH=" + PATH, "HOME=/root", "LANG=C.UTF-8", "TERM=dumb")
NSPAWN = ("systemd-nspawn", "--quiet", "--keep-unit", "--register=no")
REBOOTED = 133  # systemd-nspawn's exit status when the machine asked for a reboot
LOCAL_CAS = Path("/usr/local/share/ca-certificates")  # a proxy's CA this host trusts, say
SOURCE_PARTS = ("kiosk", "hardware", "web", "scripts", "systemd", "bench", "tests",
                "pyproject.toml", "README.md", "Makefile")


class MachineError(Exception):
    """A command in the machine failed, or the machine did not come up."""


@dataclass(frozen=True)
class Base:
    """A debootstrapped Debian: its architecture and the packages beyond minbase."""

    arch: str
    packages: tuple[str, ...]

    def folder(self, cache: Path) -> Path:
        return cache / f"{SUITE}-{self.arch}"

    def made(self, cache: Path) -> bool:
        stamp = cache / f"{SUITE}-{self.arch}.packages"
        return stamp.is_file() and stamp.read_text() == " ".join(self.packages)

    def make(self, cache: Path) -> None:
        """Debootstrap it (minutes; under qemu-user a quarter of an hour) unless cached."""
        if self.made(cache):
            return
        folder = self.folder(cache)
        partial = folder.with_name(folder.name + ".partial")
        for old in (folder, partial):
            shutil.rmtree(old, ignore_errors=True)
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["debootstrap", "--variant=minbase", f"--arch={self.arch}",
                               f"--include={','.join(self.packages)}", SUITE, str(partial),
                               MIRROR], capture_output=True, text=True)
        if done.returncode:
            raise MachineError(f"debootstrap {self.arch} failed: {_tail(done)}")
        (partial / "etc/hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
        partial.rename(folder)
        (cache / f"{SUITE}-{self.arch}.packages").write_text(" ".join(self.packages))


def copy_machine(base: Path, root: Path, source: Path) -> None:
    """A fresh copy of ``base`` at ``root``, trusting this host's local CAs, with the working
    tree of ``source`` in /root/shelf (what `git ls-files` lists, as a clone would have)."""
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(root)], check=True)
    bundle = root / "etc/ssl/certs/ca-certificates.crt"
    for ca in sorted(LOCAL_CAS.glob("*.crt")):
        # Kept where update-ca-certificates looks (an apt run rebuilds the bundle), and in
        # the bundle now (update-ca-certificates under qemu takes minutes).
        shutil.copy(ca, root / "usr/local/share/ca-certificates" / ca.name)
        with bundle.open("a") as out:
            out.write("\n" + ca.read_text())
    tree = root / "root/shelf"
    for name in working_tree(source):
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)


def working_tree(source: Path) -> list[str]:
    """The files of the working tree: tracked ones and new ones not ignored."""
    listed = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard", "--", *SOURCE_PARTS], capture_output=True)
    if listed.returncode:
        raise MachineError(f"{source} is not a git checkout: `git ls-files` says "
                           f"{listed.stderr.decode().strip()}")
    return [n for n in listed.stdout.decode().split("\0") if n and (source / n).is_file()]


class Booted:
    """A machine folder booted with `systemd-nspawn -b`; commands run in it through nsenter."""

    def __init__(self, root: Path, name: str, binds: dict[Path, str], console: Path) -> None:
        self.root, self.name, self.binds, self.console = root, name, binds, console
        self.nspawn: subprocess.Popen | None = None
        self.leader = 0  # the machine's PID 1, as the host sees it

    def boot(self, timeout: float = 120) -> None:
        """Start it and wait for its systemd to answer (not for the boot to finish)."""
        binds = []
        for host, inside in self.binds.items():
            host.mkdir(parents=True, exist_ok=True)
            binds.append(f"--bind={host}:{inside}")
        with self.console.open("a") as log:
            self.nspawn = subprocess.Popen(
                [*NSPAWN, "--boot", f"--directory={self.root}", f"--machine={self.name}",
                 "--console=pipe", *binds], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not (leader := self._leader()):
            self._still_running(deadline, "its systemd did not start")
            time.sleep(0.2)
        self.leader = leader
        while self.sh("systemctl is-system-running", check=False).stdout.strip() in (
                "", "offline", "unknown"):
            self._still_running(deadline, "its systemd did not answer")
            time.sleep(0.5)

    def _leader(self) -> int:
        assert self.nspawn is not None
        pid = self.nspawn.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            return next((int(c) for c in children
                         if Path(f"/proc/{c}/comm").read_text().strip() == "systemd"), 0)
        except OSError:
            return 0

    def _still_running(self, deadline: float, what: str) -> None:
        assert self.nspawn is not None
        if self.nspawn.poll() is not None or time.monotonic() > deadline:
            raise MachineError(f"the machine did not boot: {what} (systemd-nspawn "
                               f"{self.nspawn.poll()}; see {self.console})")

    def sh(self, script: str, *, check: bool = True,
           timeout: float = 900) -> subprocess.CompletedProcess:
        """Run ``script`` with /bin/sh in the machine, as its root; raise when it fails."""
        done = subprocess.run(["nsenter", f"--target={self.leader}", "--all", "--wd=/",
                               "env", "-i", *ENV, "/bin/sh", "-c", script],
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode:
            raise MachineError(f"`{script}` failed (exit {done.returncode}): {_tail(done)}")
        return done

    def wait_booted(self, timeout: float = 300) -> str:
        """What `systemctl is-system-running --wait` says once the boot is over."""
        done = self.sh("systemctl is-system-running --wait", check=False, timeout=timeout)
        return done.stdout.strip()

    def reboot(self) -> None:
        """`systemctl reboot` inside; systemd-nspawn then ends with 133, and is started again
        (as systemd-nspawn@.service does, RestartForceExitStatus=133)."""
        self.sh("systemctl reboot", check=False)
        status = self._ended(120)
        if status != REBOOTED:
            raise MachineError(f"systemd-nspawn ended with {status}, not {REBOOTED} (reboot)")
        self.boot()

    def poweroff(self) -> None:
        """`systemctl poweroff` inside, or end systemd-nspawn after a minute."""
        if self.nspawn is None or self.nspawn.poll() is not None:
            return
        self.sh("systemctl poweroff", check=False)
        if self._ended(60) is None:
            self.nspawn.terminate()  # systemd-nspawn powers the machine off on SIGTERM
            if self._ended(60) is None:
                self.nspawn.kill()
                self.nspawn.wait()

    def _ended(self, timeout: float) -> int | None:
        assert self.nspawn is not None
        try:
            return self.nspawn.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def run_unbooted(root: Path, script: str, *, binds: dict[Path, str] | None = None,
                 env: tuple[str, ...] = (), timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run ``script`` in the machine folder without booting it (the host's qemu-user runs a
    foreign one through binfmt_misc)."""
    options = [f"--setenv={item}" for item in (*ENV, *env)]
    for host, inside in (binds or {}).items():
        host.mkdir(parents=True, exist_ok=True)
        options.append(f"--bind={host}:{inside}")
    done = subprocess.run([*NSPAWN, f"--directory={root}", "--console=pipe", "--chdir=/root",
                           *options, "/bin/sh", "-c", script], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode:
        raise MachineError(f"`{script}` failed (exit {done.returncode}): {_tail(done)}")
    return done


def needs() -> list[str]:
    """What this host lacks to run the proof (empty: nothing)."""
    missing = [f"{tool} (apt install {package})" for tool, package in (
        ("debootstrap", "debootstrap"), ("systemd-nspawn", "systemd-container"),
        ("qemu-aarch64-static", "qemu-user-static"), ("nsenter", "util-linux"),
        ("git", "git")) if shutil.which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root (sudo make platform)")
    return missing


def arm64_ready() -> str:
    """Register qemu-user for arm64 binaries where the kernel does not know them yet; say
    what was done ("" when it was in place)."""
    misc = Path("/proc/sys/fs/binfmt_misc")
    said = []
    if not (misc / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(misc)], check=True)
        said.append("mounted binfmt_misc")
    if not (misc / "qemu-aarch64").exists():
        rule = Path("/usr/lib/binfmt.d/qemu-aarch64.conf").read_text().strip()
        (misc / "register").write_text(rule)
        said.append("registered qemu-aarch64")
    return ", ".join(said)


def _tail(done: subprocess.CompletedProcess, lines: int = 6) -> str:
    said = ((done.stdout or "") + (done.stderr or "")).strip().splitlines()
    return " | ".join(said[-lines:]) or "nothing said"
