"""Every failure becomes a plain Persian answer: JSON ``{error: {code, message, fields?}}`` under
/api/, an HTML page elsewhere. Never a stack trace."""
from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from connector.domain.errors import (
    ExternalError,
    Forbidden,
    InvalidTransition,
    NotFound,
    RateLimited,
    TryLater,
    ValidationError,
)

from .security import CsrfError

log = logging.getLogger(__name__)

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "درخواست کامل یا درست نیست."),
    401: ("unauthorized", "اول با کدی که برای شماره همراهتان پیامک می‌شود وارد شوید."),
    403: ("forbidden", "اجازه این کار را ندارید."),
    404: ("not_found", "پیدا نشد. نشانی یا کد رهگیری را دوباره نگاه کنید."),
    405: ("method_not_allowed", "این درخواست به این شکل پذیرفته نیست."),
    409: ("conflict", "این کار در وضعیت کنونی نامه ممکن نیست."),
    413: ("too_large", "حجم فایل‌ها زیاد است."),
    429: ("rate_limited", "درخواست‌ها زیاد بوده است. کمی بعد دوباره امتحان کنید."),
    500: ("server_error", "خطایی پیش آمد. چند دقیقه دیگر دوباره امتحان کنید."),
    503: ("unavailable", "سامانه سازمان الان پاسخ نمی‌دهد. چند دقیقه دیگر دوباره امتحان کنید."),
}
VALIDATION = "اطلاعات فرستاده‌شده کامل یا درست نیست. پیام کنار هر خانه را ببینید."
CSRF = "مهلت این فرم تمام شده یا فرم از جای دیگری آمده است. صفحه را دوباره باز کنید و " \
       "دوباره بفرستید."


def too_large_message() -> str:
    """Say the real limit: the largest one any organization allows (the request body is
    refused before we know which organization it was for)."""
    from .filters import fa_digits
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    mb = max(1, limit // (1024 * 1024))
    return (f"حجم فایل‌ها زیاد است. همه پیوست‌ها روی هم باید کمتر از {fa_digits(mb)} مگابایت "
            "باشند. فایل‌های کوچک‌تر یا کمتری بفرستید.")


def rate_limit_message(retry_after: int) -> str:
    from .filters import fa_digits
    if retry_after < 90:
        return f"کمی صبر کنید: {fa_digits(max(1, retry_after))} ثانیه دیگر دوباره امتحان کنید."
    minutes = max(1, math.ceil(retry_after / 60))
    return f"درخواست‌ها زیاد بوده است. {fa_digits(minutes)} دقیقه دیگر دوباره امتحان کنید."


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str | None = None,
                   fields: dict[str, str] | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    default_code, default_message = MESSAGES.get(status, MESSAGES[500])
    message = message or default_message
    if wants_json():
        body: dict[str, Any] = {"code": code or default_code, "message": message}
        if fields:
            body["fields"] = fields
        response = jsonify(error=body)
    else:
        response = Response(render_template("error.html", status=status, message=message))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        return error_response(400, VALIDATION, fields=exc.errors, code="validation")

    @app.errorhandler(TryLater)
    def _try_later(exc: TryLater) -> Response:
        # Nothing was stored and nothing is wrong with the input: the same request will do
        # in a few minutes (the virus scanner was down).
        return error_response(503, next(iter(exc.errors.values()), None), fields=exc.errors,
                              code="try_later", headers={"Retry-After": "120"})

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return error_response(404)

    @app.errorhandler(Forbidden)
    @app.errorhandler(InvalidTransition)
    def _conflict(exc: Exception) -> Response:
        return error_response(409)

    @app.errorhandler(RateLimited)
    def _rate_limited(exc: RateLimited) -> Response:
        return error_response(429, rate_limit_message(exc.retry_after),
                              headers={"Retry-After": str(exc.retry_after)})

    @app.errorhandler(ExternalError)
    def _external(exc: ExternalError) -> Response:
        # The organization's system failed us (the core has logged it); not the citizen's fault.
        return error_response(503, headers={"Retry-After": "120"})

    @app.errorhandler(CsrfError)
    def _csrf(exc: CsrfError) -> Response:
        return error_response(400, CSRF, code="csrf")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        allowed = getattr(exc, "valid_methods", None)
        if status == 405 and allowed:
            headers["Allow"] = ", ".join(allowed)
        return error_response(status, too_large_message() if status == 413 else None,
                              headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500)
