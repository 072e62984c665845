"""Rate limits per client address (Flask-Limiter), on the doors someone could hammer: sending
one-time codes, guessing them, probing tracking codes, flooding letters, staff sign-in.

The counters live where ``PISHKHAN_RATELIMIT_STORAGE`` says: ``memory://`` (one process) by
default, ``redis://host:6379/0`` when several web processes or machines must share them. The
core has its own per-mobile limits on codes; these are per address and on top of them.
"""
from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# endpoint -> (limits, methods or None for all)
LIMITS: dict[str, tuple[str, list[str] | None]] = {
    "citizen.login": ("20 per 10 minutes", ["POST"]),
    "api.otp_request": ("20 per 10 minutes", None),
    "api.otp_verify": ("20 per 10 minutes", None),
    "citizen.track": ("60 per 10 minutes", None),
    "citizen.track_letter": ("120 per 10 minutes", None),
    "api.letter": ("120 per 10 minutes", None),
    "api.receipt_pdf": ("60 per 10 minutes", None),
    "citizen.write": ("30 per hour", ["POST"]),
    "api.submit": ("30 per hour", None),
    "console.login": ("20 per 10 minutes", ["POST"]),
}


def register(app: Flask, storage_uri: str) -> Limiter:
    # Behind a reverse proxy the address is the proxy's unless the deployment adds ProxyFix
    # for its known proxies; trusting X-Forwarded-For blindly would let anyone pick a key.
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage_uri,
                      headers_enabled=True, strategy="fixed-window",
                      key_prefix="pishkhan")
    for endpoint, (limit, methods) in LIMITS.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = limiter.limit(limit, methods=methods)(view)
    return limiter
