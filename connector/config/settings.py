"""Process settings from the environment and ``.env``, declared once as a pydantic-settings model:
each field is the variable ``PISHKHAN_<FIELD>`` (``config/pishkhan.example.env`` lists them all).
Read only by :func:`load_settings`, which the composition root calls; nothing runs at import time.
A wrong value is a :class:`SettingsError` that names the variable, what is wrong and the fix."""
from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from connector.outbox.policy import QuietHours
from connector.plugins.explain import what_is_wrong
from connector.store.db import PING_AFTER_IDLE

PREFIX = "PISHKHAN_"
# "20 per 10 minutes", "30 per hour": the notation Flask-Limiter reads.
_RATE = re.compile(r"^\s*\d+\s*(/|per)\s*(\d+\s+)?(second|minute|hour|day)s?\s*$")


class SettingsError(ValueError):
    """One line per wrong variable: ``PISHKHAN_X: what is wrong — how to fix it``."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    """Every setting of a Pishkhan process. Empty variables mean "use the default"."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, case_sensitive=False, frozen=True,
                                      extra="ignore", env_ignore_empty=True)

    var_dir: Path = Field(Path("var"), description="files: SQLite, attachments, outbox")
    database_url: str = Field("", description="empty: SQLite under the var folder")
    db_ping_after_idle: float = Field(PING_AFTER_IDLE, ge=0, description="a pooled PostgreSQL "
                                      "connection idle this many seconds is checked before use")
    orgs_dir: Path = Path("config/organizations")
    secret_key: str = Field("", repr=False,
                            description="empty: a development key kept under var/")
    public_url: str = Field("", description="empty: http://WEB_HOST:WEB_PORT")
    web_host: str = "127.0.0.1"
    web_port: int = Field(8000, ge=0, le=65535)  # 0: any free port (tests)
    web_workers: int = Field(2, ge=1, le=64)
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(8001, ge=0, le=65535)
    sandbox_url: str = Field("", description="empty: http://SANDBOX_HOST:SANDBOX_PORT")
    sandbox_access_log: bool = Field(False, description="print the sandbox's access log")
    sms_outbox: Path | None = None
    sms_gateway: str = Field("file", description='"file" or "org:SLUG"')
    sms_quiet_hours: str = ""
    sms_rate_per_minute: int | None = Field(None, ge=1)
    sms_concurrency: int = Field(4, ge=1, le=64)
    delivery_interval: float = Field(2.0, gt=0)
    sms_interval: float = Field(1.0, gt=0)
    audit_seal_seconds: float = Field(2.0, gt=0, description="how often the worker seals the "
                                      "audit records written since (chains their hashes)")
    delivery_listen: bool = Field(True, description="on PostgreSQL, wake delivery at once by "
                                  "LISTEN/NOTIFY (false behind a pooler in transaction mode)")
    webhook_interval: int = Field(5, ge=1, description="seconds between webhook sends")
    webhook_connect_timeout: float = Field(5.0, gt=0, le=300)
    webhook_timeout: float = Field(10.0, gt=0, le=300)
    # issue 14: working days, tracking by SMS
    holidays_file: str = Field("", description="a holiday file whose years replace the shipped "
                               "ones (connector/config/holidays.toml)")
    sms_inbox_interval: float = Field(10.0, gt=0, le=3600,
                                      description="seconds between reads of SMS inboxes")
    sms_replies_per_hour: int = Field(5, ge=0, le=1000,
                                      description="answers one mobile gets in an hour at most")
    sms_inbound_max_age_hours: float = Field(
        24.0, gt=0, le=24 * 30,
        description="inbound texts older than this (hours) are recorded as stale, not answered")
    max_attempts: int = Field(8, ge=1)
    retry_base_seconds: float = Field(10.0, ge=0)
    retry_cap_seconds: float = Field(3600.0, ge=0)
    call_retry_wait: float = Field(2.0, ge=0)
    otp_ttl: int = Field(300, ge=1)
    token_ttl: int = Field(86400, ge=1)
    demo: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    cli_lang: Literal["fa", "en"] = Field("fa", description="language of the CLI's messages")
    staff_max_failed_logins: int = Field(5, ge=1)
    staff_lockout_seconds: int = Field(900, ge=0)
    staff_idle_seconds: int = Field(1800, ge=1)
    staff_session_seconds: int = Field(43200, ge=1)
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    ldap_url: str = ""
    ldap_user_dn: str = ""
    ldap_timeout: float = Field(5.0, gt=0)
    digest_hour: int = Field(7, ge=0, le=23)
    metrics_token: str = Field("", repr=False)
    # Per-mobile limits on one-time codes (the core's): codes per window, tries per code, a
    # pause between codes, and the lockout after many wrong codes.
    otp_per_window: int = Field(3, ge=1)
    otp_window_seconds: int = Field(600, ge=1)
    otp_max_tries: int = Field(5, ge=1)
    otp_resend_seconds: int = Field(60, ge=0)
    otp_lock_after: int = Field(8, ge=1)
    otp_lock_seconds: int = Field(3600, ge=1)
    # Per-address limits on the portal's doors (Flask-Limiter notation), and where they count.
    ratelimit_storage: str = "memory://"
    ratelimit_otp: str = "20 per 10 minutes"
    ratelimit_track: str = "60 per 10 minutes"
    ratelimit_letter: str = "120 per 10 minutes"
    ratelimit_download: str = "60 per 10 minutes"
    ratelimit_submit: str = "30 per hour"
    ratelimit_staff_login: str = "20 per 10 minutes"
    # The virus scanner for every organization without a [scanner] table of its own: an entry
    # point name of ``pishkhan.scanners`` ("none" in the embedded setup, "clamav"); clamd's
    # address is a unix socket unless PISHKHAN_CLAMD_HOST names a TCP one.
    scanner: str = "none"
    clamd_socket: str = "/run/clamav/clamd.ctl"
    clamd_host: str = ""
    clamd_port: int = Field(3310, ge=1, le=65535)
    scanner_timeout: float = Field(30.0, gt=0, description="seconds a scan may take")
    retention_hour: int = Field(3, ge=0, le=23, description="Tehran hour of the retention run")
    # Identity look-ups (connector/plugins/identity.py): the HTTP/JSON adapter's profile file
    # (empty: off), and how long answers are kept in memory.
    identity_profile: str = Field("", description="e.g. config/identity/sandbox.toml")
    identity_cache_seconds: float = Field(600.0, ge=0)
    # Reverse proxies in front of the portal whose X-Forwarded-* headers are trusted.
    proxy_fix: int = Field(0, ge=0, le=10)
    # Every variable seen (environment over .env): organization files name their secrets here.
    env: Mapping[str, str] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.upper() if value.lower() in {"debug", "info", "warning", "error",
                                                  "critical"} else value.lower()

    @field_validator("sms_quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        QuietHours.parse(value)  # its ValueError says what is wrong
        return value

    @field_validator("ratelimit_otp", "ratelimit_track", "ratelimit_letter",
                     "ratelimit_download", "ratelimit_submit", "ratelimit_staff_login")
    @classmethod
    def _rate(cls, value: str) -> str:
        if not _RATE.match(value):
            raise ValueError(f"{value!r} is not a limit like \"20 per 10 minutes\"")
        return value.strip()

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        # Defaults that depend on other settings; the model is frozen, so set them in place.
        values = self.__dict__
        var_dir = self.var_dir.resolve()
        values["var_dir"] = var_dir
        values["orgs_dir"] = self.orgs_dir.resolve()
        values["database_url"] = self.database_url or f"sqlite:///{var_dir / 'pishkhan.db'}"
        values["public_url"] = (self.public_url
                                or f"http://{self.web_host}:{self.web_port}").rstrip("/")
        values["sandbox_url"] = (self.sandbox_url
                                 or f"http://{self.sandbox_host}:{self.sandbox_port}").rstrip("/")
        values["sms_outbox"] = self.sms_outbox or var_dir / "sms-outbox.jsonl"
        return self

    @property
    def scanner_options(self) -> dict[str, object]:
        """The process-wide scanner's options (clamd's address and the time a scan may take)."""
        options: dict[str, object] = {"timeout": self.scanner_timeout}
        if self.clamd_host:
            options.update(host=self.clamd_host, port=self.clamd_port)
        else:
            options["socket"] = self.clamd_socket
        return options

    @property
    def blob_dir(self) -> Path:
        return self.var_dir / "blobs"

    def secret(self, name: str) -> str | None:
        """An environment variable named by an organization file (credentials live only here)."""
        return self.env.get(name)

    @classmethod
    def variable(cls, field: str) -> str:
        return PREFIX + field.upper()


class _MappingSource(EnvSettingsSource):
    """The environment source reading a given mapping (tests and tools pass their own)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._given.items() if v != ""}


_SOURCE: ContextVar[Mapping[str, str]] = ContextVar("pishkhan_settings_source")


class _Read(Settings):
    """Settings read from the mapping :func:`load_settings` was given (environment over .env),
    not from os.environ directly."""

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any,
                                   *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return (init_settings, _MappingSource(settings_cls, _SOURCE.get()))


def _secret_key(var_dir: Path) -> str:
    # A development key kept under var/ so sessions survive restarts; production sets one.
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _explain(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        info: FieldInfo | None = Settings.model_fields.get(field)
        default = info.get_default(call_default_factory=True) if info else None
        given = err.get("input")
        plain = what_is_wrong(err).split(", not ")[0]
        what = plain if plain.startswith("is ") or err["type"] == "value_error" else \
            f"is {given!r}, but {plain}"
        example = "" if default in (None, "") else f" — write {Settings.variable(field)}={default}"
        fix = example or " — correct it or leave it empty for the default"
        if err["type"] == "literal_error":
            fix = f" — use one of: {err['ctx']['expected'].replace(chr(39), '')}"
        lines.append(f"{Settings.variable(field)}: {what}{fix}")
    return lines


def load_settings(environ: Mapping[str, str] | None = None,
                  env_file: str | os.PathLike[str] | None = None) -> Settings:
    """Layer ``.env`` under the real environment (the environment wins, as python-dotenv does).
    Raises :class:`SettingsError` naming each wrong variable."""
    base = dict(os.environ if environ is None else environ)
    env_path = Path(env_file or base.get("PISHKHAN_ENV_FILE", ".env"))
    file_values = {k: v for k, v in dotenv_values(env_path).items() if v is not None} \
        if env_path.is_file() else {}
    env = {**file_values, **base}

    token = _SOURCE.set(env)
    try:
        read = _Read()
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None
    finally:
        _SOURCE.reset(token)
    values = read.model_dump()
    if not values["secret_key"]:
        values["secret_key"] = _secret_key(read.var_dir)
    # Organization files refer to ${PISHKHAN_SANDBOX_URL}; give them the resolved address,
    # and the var folder, where the demo sandbox keeps its database (demo-odbc reads it).
    env["PISHKHAN_SANDBOX_URL"] = read.sandbox_url
    env["PISHKHAN_VAR_DIR"] = str(read.var_dir)
    return Settings.model_construct(**values, env=env)
