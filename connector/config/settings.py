"""Process settings from the environment and ``.env``. Read only by :func:`load_settings`, which
the composition root calls; nothing here runs at import time."""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    orgs_dir: Path
    secret_key: str
    public_url: str
    web_host: str
    web_port: int
    sandbox_host: str
    sandbox_port: int
    sandbox_url: str
    sms_outbox: Path
    delivery_interval: float
    sms_interval: float
    max_attempts: int
    retry_base_seconds: float
    retry_cap_seconds: float
    call_retry_wait: float
    otp_ttl: int
    token_ttl: int
    demo: bool
    log_level: str
    staff_max_failed_logins: int = 5
    staff_lockout_seconds: int = 900
    staff_idle_seconds: int = 1800
    staff_session_seconds: int = 43200
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    ldap_url: str = ""
    ldap_user_dn: str = ""
    ldap_timeout: float = 5.0
    log_format: str = "text"
    digest_hour: int = 7
    ratelimit_storage: str = "memory://"
    # The virus scanner for every organization without a [scanner] table of its own: an entry
    # point name of ``pishkhan.scanners`` ("none" in the embedded setup, "clamav") and its options.
    scanner: str = "none"
    scanner_options: Mapping[str, object] = field(default_factory=dict)
    retention_hour: int = 3
    proxy_fix: int = 0  # reverse proxies in front of the portal whose X-Forwarded-* we trust
    env: Mapping[str, str] = field(repr=False, default_factory=dict)

    @property
    def blob_dir(self) -> Path:
        return self.var_dir / "blobs"

    def secret(self, name: str) -> str | None:
        """An environment variable named by an organization file (credentials live only here)."""
        return self.env.get(name)


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


def _scanner_options(get: Callable[[str, str], str]) -> dict[str, object]:
    """clamd's address: a unix socket (Debian's clamav-daemon listens on
    /run/clamav/clamd.ctl) unless PISHKHAN_CLAMD_HOST names a TCP one."""
    host = get("PISHKHAN_CLAMD_HOST", "")
    options: dict[str, object] = {"timeout": float(get("PISHKHAN_SCANNER_TIMEOUT", "30"))}
    if host:
        options.update(host=host, port=int(get("PISHKHAN_CLAMD_PORT", "3310")))
    else:
        options["socket"] = get("PISHKHAN_CLAMD_SOCKET", "/run/clamav/clamd.ctl")
    return options


def load_settings(environ: Mapping[str, str] | None = None,
                  env_file: str | os.PathLike[str] | None = None) -> Settings:
    """Layer ``.env`` under the real environment (the environment wins, as python-dotenv does)."""
    base = dict(os.environ if environ is None else environ)
    env_path = Path(env_file or base.get("PISHKHAN_ENV_FILE", ".env"))
    file_values = {k: v for k, v in dotenv_values(env_path).items() if v is not None} \
        if env_path.is_file() else {}
    env = {**file_values, **base}

    def get(name: str, default: str) -> str:
        value = env.get(name, "")
        return value if value != "" else default

    var_dir = Path(get("PISHKHAN_VAR_DIR", "var")).resolve()
    sandbox_host = get("PISHKHAN_SANDBOX_HOST", "127.0.0.1")
    sandbox_port = int(get("PISHKHAN_SANDBOX_PORT", "8001"))
    web_host = get("PISHKHAN_WEB_HOST", "127.0.0.1")
    web_port = int(get("PISHKHAN_WEB_PORT", "8000"))
    sandbox_url = get("PISHKHAN_SANDBOX_URL", f"http://{sandbox_host}:{sandbox_port}")
    # Organization files refer to ${PISHKHAN_SANDBOX_URL}; give them the resolved address.
    env["PISHKHAN_SANDBOX_URL"] = sandbox_url
    # ... and the var folder, where the demo sandbox keeps its database (demo-odbc reads it).
    env["PISHKHAN_VAR_DIR"] = str(var_dir)
    return Settings(
        var_dir=var_dir,
        database_url=get("PISHKHAN_DATABASE_URL", f"sqlite:///{var_dir / 'pishkhan.db'}"),
        orgs_dir=Path(get("PISHKHAN_ORGS_DIR", "config/organizations")).resolve(),
        secret_key=get("PISHKHAN_SECRET_KEY", "") or _secret_key(var_dir),
        public_url=get("PISHKHAN_PUBLIC_URL", f"http://{web_host}:{web_port}").rstrip("/"),
        web_host=web_host,
        web_port=web_port,
        sandbox_host=sandbox_host,
        sandbox_port=sandbox_port,
        sandbox_url=sandbox_url.rstrip("/"),
        sms_outbox=Path(get("PISHKHAN_SMS_OUTBOX", str(var_dir / "sms-outbox.jsonl"))),
        delivery_interval=float(get("PISHKHAN_DELIVERY_INTERVAL", "2")),
        sms_interval=float(get("PISHKHAN_SMS_INTERVAL", "1")),
        max_attempts=int(get("PISHKHAN_MAX_ATTEMPTS", "8")),
        retry_base_seconds=float(get("PISHKHAN_RETRY_BASE_SECONDS", "10")),
        retry_cap_seconds=float(get("PISHKHAN_RETRY_CAP_SECONDS", "3600")),
        call_retry_wait=float(get("PISHKHAN_CALL_RETRY_WAIT", "2")),
        otp_ttl=int(get("PISHKHAN_OTP_TTL", "300")),
        token_ttl=int(get("PISHKHAN_TOKEN_TTL", "86400")),
        demo=get("PISHKHAN_DEMO", "false").lower() in TRUE,
        log_level=get("PISHKHAN_LOG_LEVEL", "INFO").upper(),
        staff_max_failed_logins=int(get("PISHKHAN_STAFF_MAX_FAILED_LOGINS", "5")),
        staff_lockout_seconds=int(get("PISHKHAN_STAFF_LOCKOUT_SECONDS", "900")),
        staff_idle_seconds=int(get("PISHKHAN_STAFF_IDLE_SECONDS", "1800")),
        staff_session_seconds=int(get("PISHKHAN_STAFF_SESSION_SECONDS", "43200")),
        argon2_time_cost=int(get("PISHKHAN_ARGON2_TIME_COST", "3")),
        argon2_memory_kib=int(get("PISHKHAN_ARGON2_MEMORY_KIB", "65536")),
        ldap_url=get("PISHKHAN_LDAP_URL", ""),
        ldap_user_dn=get("PISHKHAN_LDAP_USER_DN", ""),
        ldap_timeout=float(get("PISHKHAN_LDAP_TIMEOUT", "5")),
        log_format=get("PISHKHAN_LOG_FORMAT", "text").lower(),
        digest_hour=int(get("PISHKHAN_DIGEST_HOUR", "7")),
        ratelimit_storage=get("PISHKHAN_RATELIMIT_STORAGE", "memory://"),
        scanner=get("PISHKHAN_SCANNER", "none"),
        scanner_options=_scanner_options(get),
        retention_hour=int(get("PISHKHAN_RETENTION_HOUR", "3")),
        proxy_fix=int(get("PISHKHAN_PROXY_FIX", "0")),
        env=env,
    )
