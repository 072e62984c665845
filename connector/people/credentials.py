"""Secrets we hold: one-time codes, citizen tokens and staff passwords — only hashes are kept."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


def digest(value: str, key: str) -> str:
    """Keyed hash for short-lived secrets (OTP codes, tokens): fast, and useless without the key."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def new_otp() -> str:
    return f"{secrets.randbelow(10**5):05d}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


# Staff passwords: argon2id. Hashes made before argon2 (scrypt) are still accepted and are
# replaced with argon2 at the next successful login (see ``needs_rehash``), as are argon2 hashes
# made with lower costs than the ones configured now.
_SCRYPT = "scrypt$"


@dataclass(frozen=True)
class Argon2Cost:
    time_cost: int = 3
    memory_kib: int = 65536  # RFC 9106's second recommended option: t=3, 64 MiB


@lru_cache(maxsize=8)
def _hasher(cost: Argon2Cost) -> PasswordHasher:
    return PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=1)


def hash_password(password: str, cost: Argon2Cost = Argon2Cost()) -> str:
    return _hasher(cost).hash(password)


def check_password(password: str, stored: str) -> bool:
    if stored.startswith(_SCRYPT):
        return _check_scrypt(password, stored)
    if not stored.startswith("$argon2"):
        return False  # e.g. the marker of a directory (LDAP) account: no local password
    try:
        return _hasher(Argon2Cost()).verify(stored, password)  # the cost is read from the hash
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str, cost: Argon2Cost = Argon2Cost()) -> bool:
    """True for a scrypt hash, or an argon2 hash made with other costs than ``cost``."""
    if stored.startswith(_SCRYPT):
        return True
    return stored.startswith("$argon2") and _hasher(cost).check_needs_rehash(stored)


def _check_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, dk = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(dk) // 2, maxmem=2**26)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), dk)
