"""Rate limits per client address (Flask-Limiter), on the doors someone could hammer: sending
one-time codes, guessing them, probing tracking codes, flooding letters, staff sign-in.

Each limit is a setting (``PISHKHAN_RATELIMIT_OTP`` and the others in the example .env; the
defaults below are theirs). The counters live where ``PISHKHAN_RATELIMIT_STORAGE`` says:
``memory://`` (one process) by default, ``redis://host:6379/0`` when several web processes or
machines must share them. The
core has its own per-mobile limits on codes; these are per address and on top of them.
"""
from __future__ import annotations

import math
import time

from flask import Flask, Response
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from connector.config.settings import Settings

from .errors import error_response, rate_limit_message

# endpoint -> (the setting that holds its limit, methods or None for all)
LIMITS: dict[str, tuple[str, list[str] | None]] = {
    "citizen.login": ("ratelimit_otp", ["POST"]),
    "api.otp_request": ("ratelimit_otp", None),
    "api.otp_verify": ("ratelimit_otp", None),
    "citizen.track": ("ratelimit_track", None),
    "citizen.track_letter": ("ratelimit_letter", None),
    "api.letter": ("ratelimit_letter", None),
    "api.receipt_pdf": ("ratelimit_download", None),
    "api.reply": ("ratelimit_download", None),
    "citizen.write": ("ratelimit_submit", ["POST"]),
    "api.submit": ("ratelimit_submit", None),
    "console.login": ("ratelimit_staff_login", ["POST"]),
}


def register(app: Flask, settings: Settings) -> Limiter:
    # Behind a reverse proxy the address is the proxy's unless PISHKHAN_PROXY_FIX names how
    # many proxies to trust; trusting X-Forwarded-For blindly would let anyone pick a key.
    # Its own headers are off: it would put Retry-After on every answer, even a 200.
    limiter = Limiter(get_remote_address, app=app, storage_uri=settings.ratelimit_storage,
                      headers_enabled=False, strategy="fixed-window", key_prefix="pishkhan")
    for endpoint, (setting, methods) in LIMITS.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            limit = getattr(settings, setting)
            app.view_functions[endpoint] = limiter.limit(limit, methods=methods)(view)

    @app.errorhandler(RateLimitExceeded)
    def _limited(exc: RateLimitExceeded) -> Response:
        current = limiter.current_limit
        wait = max(1, math.ceil(current.reset_at - time.time())) if current else 60
        return error_response(429, rate_limit_message(wait), headers={"Retry-After": str(wait)})
    return limiter
