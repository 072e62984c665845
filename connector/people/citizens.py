"""Proving a mobile number with a one-time code, and the session token that follows."""
from __future__ import annotations

import hmac
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.domain.errors import RateLimited, ValidationError, msg
from connector.domain.normalize import digits_only
from connector.domain.normalize import mobile as normalize_mobile
from connector.outbox import sms as sms_outbox
from connector.people.credentials import digest, new_otp, new_token
from connector.store.db import hold_lock, transaction
from connector.store.models import ApiToken, OtpChallenge

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

# The per-mobile limits are settings (PISHKHAN_OTP_PER_WINDOW and the others): codes per
# window; tries per code; a new code only after a pause, so a second SMS isn't asked for before
# the first arrives; and a lockout: that many wrong codes for one mobile within the lock window
# lock it (both asking for a code and checking one) until enough tries are older than it.
MSG_MOBILE = msg("otp.mobile")
MSG_CODE = msg("otp.code")


def clean_mobile(value: str) -> str:
    m = normalize_mobile(value or "")
    if not m:
        raise ValidationError({"mobile": MSG_MOBILE})
    return m


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def _lock_wait(s: Session, px: Pishkhan, mobile: str) -> int:
    """Seconds until the mobile is unlocked; 0 when it is not locked."""
    lock_window = timedelta(seconds=px.settings.otp_lock_seconds)
    rows = s.execute(select(OtpChallenge.created_at, OtpChallenge.attempts).where(
        OtpChallenge.mobile == mobile, OtpChallenge.used_at.is_(None),
        OtpChallenge.attempts > 0, OtpChallenge.created_at > now() - lock_window)
        .order_by(OtpChallenge.created_at.desc())).all()
    wrong = 0
    for created_at, attempts in rows:
        wrong += attempts
        if wrong >= px.settings.otp_lock_after:
            # Unlocked when this challenge's tries leave the window and fewer than the limit
            # remain.
            return _seconds(created_at + lock_window - now())
    return 0


def resend_wait(px: Pishkhan, mobile: str) -> int:
    """Seconds before a new code may be asked for this mobile (0: now)."""
    mobile = clean_mobile(mobile)
    with px.sessions() as s:
        return _resend_wait(s, px, mobile)


def _resend_wait(s: Session, px: Pishkhan, mobile: str) -> int:
    window = timedelta(seconds=px.settings.otp_window_seconds)
    resend = timedelta(seconds=px.settings.otp_resend_seconds)
    locked = _lock_wait(s, px, mobile)
    if locked:
        return locked
    recent = s.execute(select(OtpChallenge.created_at, OtpChallenge.used_at).where(
        OtpChallenge.mobile == mobile, OtpChallenge.created_at > now() - window)
        .order_by(OtpChallenge.created_at)).all()
    if len(recent) >= px.settings.otp_per_window:
        return _seconds(recent[0].created_at + window - now())
    # Only while the last code is still unused: signing in again later needs no wait.
    if recent and recent[-1].used_at is None and recent[-1].created_at > now() - resend:
        return _seconds(recent[-1].created_at + resend - now())
    return 0


def _hold_mobile(s: Session, mobile: str) -> None:
    # Asking for and checking codes for one mobile take turns: every limit below is a
    # check-then-act, and parallel requests must not all pass the check before any acts.
    hold_lock(s, f"otp:{mobile}")


def request_otp(px: Pishkhan, mobile: str) -> str:
    """Queue a code for the mobile; returns the normalized mobile."""
    mobile = clean_mobile(mobile)
    with transaction(px.sessions) as s:
        _hold_mobile(s, mobile)
        wait = _resend_wait(s, px, mobile)
        if wait:
            raise RateLimited(wait)
        code = new_otp()
        s.add(OtpChallenge(mobile=mobile, code_hash=digest(f"{mobile}:{code}",
                                                           px.settings.secret_key),
                           expires_at=now() + timedelta(seconds=px.settings.otp_ttl)))
        sms_outbox.queue(s, px, "otp", mobile, {"code": code})
    return mobile


def verify_otp(px: Pishkhan, mobile: str, code: str) -> str:
    """Check the newest live code for the mobile and return a new bearer token (the API's)."""
    token = _check_code(px, mobile, code, issue_token=True)
    assert token is not None
    return token


def prove_mobile(px: Pishkhan, mobile: str, code: str) -> str:
    """Check the code for a web sign-in, which keeps the mobile in its own session: no bearer
    token is made that nobody would receive. Returns the normalized mobile."""
    _check_code(px, mobile, code, issue_token=False)
    return clean_mobile(mobile)


def _check_code(px: Pishkhan, mobile: str, code: str, issue_token: bool) -> str | None:
    mobile = clean_mobile(mobile)
    code = digits_only(code)
    with transaction(px.sessions) as s:
        _hold_mobile(s, mobile)
        locked = _lock_wait(s, px, mobile)
        if locked:
            raise RateLimited(locked)
        live = s.scalar(select(OtpChallenge.id).where(
            OtpChallenge.mobile == mobile, OtpChallenge.used_at.is_(None),
            OtpChallenge.expires_at > now()).order_by(OtpChallenge.id.desc()).limit(1))
        # The try is counted in the same statement that checks the limit, before the code is
        # compared: however many arrive at once, at most otp_max_tries are ever compared.
        counted = s.execute(update(OtpChallenge).where(
            OtpChallenge.id == live, OtpChallenge.used_at.is_(None),
            OtpChallenge.attempts < px.settings.otp_max_tries)
            .values(attempts=OtpChallenge.attempts + 1)
            .returning(OtpChallenge.attempts, OtpChallenge.code_hash)).first() \
            if live is not None else None
        if counted is None:
            raise ValidationError({"code": MSG_CODE})
        attempts, code_hash = counted
        if not hmac.compare_digest(code_hash, digest(f"{mobile}:{code}",
                                                     px.settings.secret_key)):
            locked = _lock_wait(s, px, mobile)
            # Committed on purpose: each wrong try counts even though we refuse.
            s.commit()
            if locked:
                raise RateLimited(locked)
            left = px.settings.otp_max_tries - attempts
            raise ValidationError({"code": msg("otp.wrong", left=left) if left else MSG_CODE})
        s.execute(update(OtpChallenge).where(OtpChallenge.id == live).values(used_at=now()))
        if not issue_token:
            return None
        token = new_token()
        s.add(ApiToken(token_hash=digest(token, px.settings.secret_key), mobile=mobile,
                       expires_at=now() + timedelta(seconds=px.settings.token_ttl)))
    return token


# Built once: every API request asks it.
_LIVE_TOKEN = select(ApiToken.mobile, ApiToken.expires_at).where(
    ApiToken.token_hash == bindparam("hash"), ApiToken.expires_at > bindparam("now"),
    ApiToken.revoked_at.is_(None)).limit(1)


def mobile_for_token(px: Pishkhan, token: str) -> str | None:
    if not token:
        return None
    key, at = digest(token, px.settings.secret_key), now()
    cached = px.tokens.get(key, at)
    if cached is not None:
        return cached
    generation = px.tokens.generation()  # before the store: see token_cache
    with px.engine.connect() as conn:  # by a unique index; no ORM session needed
        live = conn.execute(_LIVE_TOKEN, {"hash": key, "now": at}).first()
    if live is None:
        return None
    px.tokens.put(key, live.mobile, live.expires_at, generation)
    return str(live.mobile)


def revoke_token(px: Pishkhan, token: str) -> bool:
    """Sign a bearer token out: it answers 401 from now on. False if it was not live."""
    with transaction(px.sessions) as s:
        revoked = s.execute(update(ApiToken).where(
            ApiToken.token_hash == digest(token, px.settings.secret_key),
            ApiToken.revoked_at.is_(None)).values(revoked_at=now())).rowcount == 1
    px.tokens.revoked()  # committed: no process may answer from what it cached before
    return revoked
