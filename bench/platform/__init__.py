"""``make platform``: the shelf proven on the Pi's platform without a Pi (issue 19).

Debian Bookworm debootstrapped into a folder (cached) and booted with `systemd-nspawn -b`
(systemd 252, as Raspberry Pi OS Bookworm has it), `scripts/install` from the working tree,
and the gate checked as it is lived with (``booted``); then the Pi's install on arm64 under
qemu-user (``arm64``). As root on a Debian 12 machine; no systemd needed on the host.
"""
