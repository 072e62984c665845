"""Every failure becomes a plain Persian answer (the sentences are the message catalog's):
JSON ``{error: {code, message, fields?}}`` under /api/, an HTML page elsewhere. Never a stack
trace."""
from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

import messages
from connector.domain.errors import (
    ExternalError,
    Forbidden,
    InvalidTransition,
    Message,
    NotFound,
    RateLimited,
    TryLater,
    ValidationError,
    msg,
)
from connector.store.db import store_unavailable

from .security import CsrfError

log = logging.getLogger(__name__)

# status -> the error's code in the API; its sentence is the catalog's "error.CODE".
CODES: dict[int, str] = {400: "bad_request", 401: "unauthorized", 403: "forbidden",
                         404: "not_found", 405: "method_not_allowed", 409: "conflict",
                         413: "too_large", 429: "rate_limited", 500: "server_error",
                         503: "unavailable"}
VALIDATION = msg("error.validation")
CSRF = msg("error.csrf")


def too_large_message() -> Message:
    """Say the real limit: the largest one any organization allows (the request body is
    refused before we know which organization it was for)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return msg("error.too_large_total", mb=max(1, limit // (1024 * 1024)))


def rate_limit_message(retry_after: int) -> Message:
    if retry_after < 90:
        return msg("error.wait_seconds", n=max(1, retry_after))
    return msg("error.wait_minutes", n=max(1, math.ceil(retry_after / 60)))


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: Message | None = None,
                   fields: dict[str, Message] | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    default_code = CODES.get(status, CODES[500])
    message = message or msg(f"error.{default_code}")
    if wants_json():  # the API speaks Persian
        body: dict[str, Any] = {"code": code or default_code,
                                "message": messages.render(message)}
        if fields:
            body["fields"] = messages.render_all(fields)
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

    @app.errorhandler(OperationalError)
    def _store_failed(exc: OperationalError) -> Response:
        if not store_unavailable(exc):  # our SQL or schema is wrong: a bug, with its traceback
            return _unexpected(exc)
        log.warning("the database did not answer %s %s: %s", request.method, request.path,
                    " ".join(str(exc.orig or exc).split())[:200])
        return error_response(503, msg("error.busy"), code="busy", headers={"Retry-After": "60"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500)
