"""Proving a mobile number with a one-time code, and the session token that follows."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from . import notifications
from .clock import now
from .credentials import digest, new_otp, new_token
from .db import transaction
from .errors import RateLimited, ValidationError
from .models import ApiToken, OtpChallenge
from .normalize import digits_only
from .normalize import mobile as normalize_mobile

if TYPE_CHECKING:
    from .bootstrap import Pishkhan

OTP_PER_WINDOW = 3
OTP_WINDOW = timedelta(minutes=10)
OTP_MAX_TRIES = 5
MSG_MOBILE = "شماره همراه درست نیست. یک شماره ۱۱ رقمی مانند ۰۹۱۲۳۴۵۶۷۸۹ بنویسید."
MSG_CODE = "کد درست نیست یا وقت آن گذشته است. دوباره کد بگیرید."


def clean_mobile(value: str) -> str:
    m = normalize_mobile(value or "")
    if not m:
        raise ValidationError({"mobile": MSG_MOBILE})
    return m


def request_otp(px: Pishkhan, mobile: str) -> str:
    """Queue a code for the mobile; returns the normalized mobile."""
    mobile = clean_mobile(mobile)
    with transaction(px.sessions) as s:
        recent = s.scalar(select(func.count()).select_from(OtpChallenge).where(
            OtpChallenge.mobile == mobile, OtpChallenge.created_at > now() - OTP_WINDOW))
        if recent >= OTP_PER_WINDOW:
            raise RateLimited(int(OTP_WINDOW.total_seconds()))
        code = new_otp()
        s.add(OtpChallenge(mobile=mobile, code_hash=digest(f"{mobile}:{code}",
                                                           px.settings.secret_key),
                           expires_at=now() + timedelta(seconds=px.settings.otp_ttl)))
        notifications.queue(s, px, "otp", mobile, {"code": code})
    return mobile


def verify_otp(px: Pishkhan, mobile: str, code: str) -> str:
    """Check the newest live code for the mobile and return a new session token."""
    mobile = clean_mobile(mobile)
    code = digits_only(code)
    with transaction(px.sessions) as s:
        challenge = s.scalars(select(OtpChallenge).where(
            OtpChallenge.mobile == mobile, OtpChallenge.used_at.is_(None),
            OtpChallenge.expires_at > now()).order_by(OtpChallenge.id.desc()).limit(1)).first()
        if challenge is None or challenge.attempts >= OTP_MAX_TRIES:
            raise ValidationError({"code": MSG_CODE})
        challenge.attempts += 1
        if challenge.code_hash != digest(f"{mobile}:{code}", px.settings.secret_key):
            # Committed on purpose: each wrong try counts even though we refuse.
            s.commit()
            raise ValidationError({"code": MSG_CODE})
        challenge.used_at = now()
        token = new_token()
        s.add(ApiToken(token_hash=digest(token, px.settings.secret_key), mobile=mobile,
                       expires_at=now() + timedelta(seconds=px.settings.token_ttl)))
    return token


def mobile_for_token(px: Pishkhan, token: str) -> str | None:
    if not token:
        return None
    with px.sessions() as s:
        row = s.scalars(select(ApiToken).where(
            ApiToken.token_hash == digest(token, px.settings.secret_key),
            ApiToken.expires_at > now())).first()
        return row.mobile if row else None
