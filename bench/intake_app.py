"""The two WSGI apps bench/intake.py serves under gunicorn, as ``bench.intake_app:product()``
and ``bench.intake_app:bare()``.

product: the portal exactly as ``pishkhan web`` builds it (portal/wsgi.py), with the per-address
rate limit off — the benchmark's clients all come from 127.0.0.1.
bare: the minimum a letter's intake needs, written plainly: parse the multipart form, write
the file with an fsync, one INSERT; the baseline the product is measured against.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert

BARE = MetaData()
BARE_LETTERS = Table("bare_letters", BARE, Column("id", Integer, primary_key=True),
                     Column("subject", String(300)), Column("body", Text),
                     Column("mobile", String(11)), Column("file", String(80)),
                     Column("size", Integer))


def product() -> Any:
    from connector.operations import logs
    from portal import create_app
    app = create_app(config={"RATELIMIT_ENABLED": False})
    settings = app.extensions["pishkhan"].settings
    logs.setup(settings.log_level, settings.log_format)
    return app


def bare() -> Any:
    from flask import Flask, jsonify, request

    from connector.store.db import make_engine  # the same engine settings (WAL, timeouts)
    engine = make_engine(os.environ["PISHKHAN_DATABASE_URL"])
    folder = Path(os.environ["BARE_FILES"])
    folder.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)

    @app.post("/api/v1/orgs/<org>/letters")
    def submit(org: str) -> Any:
        form = request.form
        upload = request.files["attachments"]
        name = uuid.uuid4().hex
        with open(folder / name, "wb") as fh:
            size = 0
            while chunk := upload.stream.read(1024 * 1024):
                fh.write(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        with engine.begin() as conn:
            conn.execute(insert(BARE_LETTERS).values(
                subject=form["subject"], body=form["body"],
                mobile=request.headers.get("Authorization", "")[-11:], file=name, size=size))
        return jsonify(tracking_code=name), 201

    return app


def whole() -> Any:
    """Uploads as intake handled them before: the file read whole into memory, then written.
    The baseline of bench/upload_memory.py."""
    from flask import Flask, jsonify, request
    folder = Path(os.environ["BARE_FILES"])
    folder.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)

    @app.post("/api/v1/orgs/<org>/letters")
    def submit(org: str) -> Any:
        content = request.files["attachments"].read()
        with open(folder / uuid.uuid4().hex, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        return jsonify(size=len(content)), 201

    return app
