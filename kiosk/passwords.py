"""Password hashes for staff logins: argon2id from argon2-cffi; only hashes are stored.

The parameters are OWASP's smallest recommended argon2id (19 MiB, 2 passes) on one lane: a
check takes about 25 ms on a PC and 0.1-0.15 s on a Pi 4, and keeps one core busy, never all
four (the kiosk's camera keeps its own). They are written into each hash, so a later change
still verifies old hashes.

Hashes made before argon2 (``pbkdf2_sha256$ROUNDS$SALT$HEX``, from ``shelf hash-password``
for the config's ``[[web.users]]``) still verify; ``needs_rehash`` says so, and a sign-in
that verified one stores the password's argon2 hash instead. Until then such an account would
answer in the time of its PBKDF2 (69 ms on a PC against argon2's 30): ``check_password``
evens that out while any is left (``legacy_rounds``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ARGON2_PREFIX = "$argon2"
LEGACY_SCHEME = "pbkdf2_sha256"
ITERATIONS = 260_000  # of the legacy PBKDF2 hashes that ``hash_password(iterations=)`` makes
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_PASSWORD = 8  # characters a staff password needs at least
MAX_LEGACY_ROUNDS = 10_000_000  # a hash asking more is malformed, not checked


def hash_password(password: str, iterations: int | None = None, *,
                  hasher: PasswordHasher = HASHER) -> str:
    """The argon2id hash of ``password`` (``hasher``: other parameters, e.g. cheap in tests).

    ``iterations`` makes the hash of before argon2 instead (PBKDF2-SHA256 with that many
    rounds): old configs have them, and tests of the upgrade at sign-in need them.
    """
    if iterations is not None:
        return legacy_hash(password, iterations)
    return hasher.hash(password)


def legacy_hash(password: str, iterations: int = ITERATIONS) -> str:
    """A PBKDF2-SHA256 hash in the format of before argon2; verified, never made by the shelf."""
    salt = secrets.token_hex(16)
    return f"{LEGACY_SCHEME}${iterations}${salt}${_pbkdf2(password, salt, iterations)}"


def check_password(stored: str, password: str, *, legacy_rounds: int = 0) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong or malformed hash.

    ``legacy_rounds``: the most rounds of the PBKDF2 hashes of before argon2 still stored (0:
    none left). While there are any, every check does the same work whichever hash it has,
    one argon2 check and that many PBKDF2 rounds, so that how long an answer takes does not
    tell which accounts still have the older, weaker kind of hash.
    """
    if stored.startswith(ARGON2_PREFIX):
        ok = _argon2_matches(stored, password)
        if legacy_rounds:
            _pbkdf2(password, "", legacy_rounds)
        return ok
    ok = _check_legacy(stored, password)
    if legacy_rounds:
        _argon2_matches(decoy_hash(), password)
        if legacy_rounds > rounds_of(stored):
            _pbkdf2(password, "", legacy_rounds - rounds_of(stored))
    return ok


@functools.cache
def decoy_hash() -> str:
    """An argon2 hash of nothing anyone knows: what a check does its work against when the
    hash it would need is missing (an unknown username) or of the other kind."""
    return hash_password(secrets.token_hex(16))


def rounds_of(stored: str) -> int:
    """The PBKDF2 rounds of a hash of before argon2; 0 for any other (or malformed) hash."""
    fields = stored.split("$")
    if len(fields) != 4 or fields[0] != LEGACY_SCHEME or not fields[1].isdigit():
        return 0
    rounds = int(fields[1])
    return rounds if 0 < rounds <= MAX_LEGACY_ROUNDS else 0


def _argon2_matches(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _pbkdf2(password: str, salt: str, rounds: int) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds).hex()


def needs_rehash(stored: str) -> bool:
    """True for a hash of the scheme before argon2: store the argon2 one at the next sign-in.

    An argon2 hash is kept whatever its parameters, so a cheap test hash stays cheap.
    """
    return not stored.startswith(ARGON2_PREFIX)


def is_password_hash(text: str) -> bool:
    """True when ``text`` looks like a hash this module can verify (argon2 or legacy)."""
    if text.startswith(ARGON2_PREFIX):
        return True
    fields = text.split("$")
    return len(fields) == 4 and fields[0] == LEGACY_SCHEME and fields[1].isdigit()


def _check_legacy(stored: str, password: str) -> bool:
    rounds = rounds_of(stored)
    if not rounds:
        return False
    _, _, salt, digest = stored.split("$")
    return hmac.compare_digest(_pbkdf2(password, salt, rounds), digest)
