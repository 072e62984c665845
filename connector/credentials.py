"""Secrets we hold: one-time codes, citizen tokens and staff passwords — only hashes are kept."""
from __future__ import annotations

import hashlib
import hmac
import secrets


def digest(value: str, key: str) -> str:
    """Keyed hash for short-lived secrets (OTP codes, tokens): fast, and useless without the key."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def new_otp() -> str:
    return f"{secrets.randbelow(10**5):05d}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${dk.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, dk = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                         p=int(p), dklen=len(dk) // 2)
    return hmac.compare_digest(got.hex(), dk)
