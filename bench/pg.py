"""A throwaway PostgreSQL cluster for the tests and proofs: Debian's server, started and removed
by them.

``scripts/setup-system --test`` installs Debian's ``postgresql``; its binaries live in
``/usr/lib/postgresql/<version>/bin`` (never on PATH, and never whatever else a machine has in
/usr/local/bin: CI is a clean Debian with what setup-system installs). PostgreSQL refuses to
run as root, and CI runs as root: then the cluster belongs to the package's own unprivileged
``postgres`` user, in folders of its own under /tmp (pytest's are private to root). The
server listens on a Unix socket in its own folder only (no TCP port to collide with). For the
tests, with fsync off: they prove the shelf's rules, not the disk; the kill proofs start theirs
``durable`` (PostgreSQL's defaults: every commit flushed), since they kill the server itself.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PORT = 5432  # only the socket's name (.s.PGSQL.5432): the folder is the cluster's own
SUPERUSER = "shelf"
SETTINGS = ("listen_addresses=", "max_connections=100", "shared_buffers=32MB")
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")  # the tests' default


def server_bin() -> Path:
    """Debian's PostgreSQL binaries, the newest version installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if not found:
        raise RuntimeError("Debian's postgresql is not installed (no /usr/lib/postgresql/*/bin/"
                           "initdb): run scripts/setup-system --test")
    return found[-1].parent


def _owner() -> str | None:
    """The user to run the server as: ourselves, or ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root, and there is no 'postgres' user to run the test "
                           "cluster as: run scripts/setup-system --test (Debian's postgresql "
                           "package makes it)") from None
    return "postgres"


@dataclass
class Cluster:
    """A running server: its folders, and how to reach it."""

    root: Path  # data/, socket/ and server.log inside
    bin: Path
    user: str | None
    durable: bool = False  # every commit flushed to the disk (PostgreSQL's defaults)

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``database``, as a config's [centre] database takes it."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={PORT}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], user=self.user,
                              capture_output=True, text=True, check=check, timeout=120,
                              cwd=self.root)

    def start(self) -> None:
        """Start the server (after a crash: it recovers from its write-ahead log first)."""
        settings = SETTINGS if self.durable else (*SETTINGS, *FAST)
        options = f"-k {self.socket_dir} -p {PORT} " + " ".join(f"-c {s}" for s in settings)
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-l",
                      str(self.root / "server.log"), "-o", options, "-w", "-t", "60", "start")
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"could not start the cluster in {self.root}: "
                               f"{exc.stderr or exc.stdout}{self.log()[-3000:]}") from None

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", mode, "-w", "-t", "60",
                  "stop", check=False)

    def postmaster_pid(self) -> int | None:
        """The server's main process, as its ``postmaster.pid`` says (None: not running)."""
        try:
            return int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def make_cluster(*, durable: bool = False) -> Cluster:
    """initdb a new cluster into a folder of its own and start it."""
    owner = _owner()
    root = Path(tempfile.mkdtemp(prefix="shelf-pg-"))
    (root / "socket").mkdir()
    if owner is not None:
        info = pwd.getpwnam(owner)
        for path in (root, root / "socket"):
            os.chown(path, info.pw_uid, info.pw_gid)
    cluster = Cluster(root, server_bin(), owner, durable)
    try:
        cluster._run("initdb", "-D", str(root / "data"), "-U", SUPERUSER, "-A", "trust",
                     "-E", "UTF8", "--locale=C", "--no-sync")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not make the cluster: {exc.stderr or exc.stdout}") from None
    try:
        cluster.start()
    except RuntimeError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    cluster.stop("immediate")
    shutil.rmtree(cluster.root, ignore_errors=True)
