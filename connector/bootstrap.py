"""The composition root: the one place that reads configuration and wires the core to its
adapters, SMS gateways and stores. Tests pass their own parts (fakes that implement the ports)."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.config import holidays
from connector.config.organizations import Organization, Problem, load_organizations
from connector.config.settings import Settings, load_settings
from connector.domain.calendar import WorkCalendar
from connector.domain.errors import ConfigurationError, NotFound
from connector.letters import bookkeeping
from connector.letters.blobs import BlobStore
from connector.letters.scanning import Scanning
from connector.outbox.policy import GatewayConfig, GatewayHealth, QuietHours, SmsPolicy
from connector.outbox.webhook_http import HttpWebhookSink
from connector.people.token_cache import TokenCache
from connector.plugins import registry
from connector.plugins.ports import (
    CorrespondenceSystem,
    MailGateway,
    SmsGateway,
    TextCatalog,
    VirusScanner,
    WebhookSink,
)
from connector.store.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


@dataclass
class Pishkhan:
    settings: Settings
    orgs: dict[str, Organization]
    problems: list[Problem]
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore
    texts: TextCatalog
    _adapters: dict[str, CorrespondenceSystem] = field(default_factory=dict)
    _gateways: dict[str, SmsGateway] = field(default_factory=dict)
    _mailers: dict[str, MailGateway] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    sms_health: GatewayHealth = field(default_factory=GatewayHealth)
    webhook_sink: WebhookSink | None = None
    _scanners: dict[str, Scanning] = field(default_factory=dict)
    holidays: WorkCalendar = field(default_factory=WorkCalendar)
    # bootstrap() gives it the installation's marker; this default never answers from memory.
    tokens: TokenCache = field(default_factory=lambda: TokenCache(Path(os.devnull), ttl=-1))

    def org(self, slug: str) -> Organization:
        try:
            return self.orgs[slug]
        except KeyError:
            raise NotFound(f"organization {slug!r}") from None

    def calendar(self, slug: str | None) -> WorkCalendar:
        """Working days for ``slug``: official holidays plus the organization's closures."""
        org = self.orgs.get(slug or "")
        return org.calendar.apply(self.holidays) if org else self.holidays

    def adapter(self, slug: str) -> CorrespondenceSystem:
        with self._lock:
            if slug not in self._adapters:
                org = self.org(slug)
                self._adapters[slug] = registry.create(
                    registry.ADAPTERS, org.adapter.type, org.adapter.options, self.settings.env)
            return self._adapters[slug]

    def scanner(self, slug: str | None = None) -> Scanning:
        """The virus check for uploads to this organization: its own ``[scanner]`` table, else
        the process's PISHKHAN_SCANNER (built once, kept)."""
        own = self.org(slug).scanner if slug else None
        key = slug if own is not None and slug else ""
        with self._lock:
            if key not in self._scanners:
                kind, options = (own.type, own.options) if own is not None else \
                    (self.settings.scanner, self.settings.scanner_options)
                if kind == "none":
                    options = {}
                self._scanners[key] = Scanning(registry.create(
                    registry.SCANNERS, kind, options, self.settings.env))
            return self._scanners[key]

    def sms_policy(self, slug: str | None) -> SmsPolicy:
        """The organization's gateways and sending rules; ``None`` (OTP before an organization
        is chosen) is the platform's own gateway, from PISHKHAN_SMS_GATEWAY."""
        if slug:
            return self.org(slug).sms_policy
        kind = self.settings.sms_gateway
        if kind.startswith("org:"):  # a real provider: the gateways of that organization's file
            return self.org(kind[4:]).sms_policy
        quiet = QuietHours.parse(self.settings.sms_quiet_hours)
        return SmsPolicy(gateways=(GatewayConfig(kind, kind, 1, {}),), quiet_hours=quiet)

    def gateway(self, slug: str | None, name: str | None = None) -> SmsGateway:
        """One of the organization's SMS gateways by name; without a name, the first."""
        gateways = self.sms_policy(slug).gateways
        conf = next((g for g in gateways if g.name == name), None) if name else gateways[0]
        if conf is None:
            raise ConfigurationError(f"organization {slug!r} has no SMS gateway named {name!r}")
        # The first gateway is kept under the bare slug, so one passed to bootstrap() by slug
        # stands for an organization's only gateway.
        key = (slug or "") if conf is gateways[0] else f"{slug or ''}/{conf.name}"
        with self._lock:
            if key not in self._gateways:
                options = dict(conf.options)
                if conf.type == "file":
                    options.setdefault("path", str(self.settings.sms_outbox))
                    # The inbox stands for the organization's own line: organizations sharing
                    # the outbox file must not read (and answer) each other's texts.
                    if slug:
                        options.setdefault(
                            "inbox", str(self.settings.var_dir / "sms-inbox" / f"{slug}.jsonl"))
                self._gateways[key] = registry.create(
                    registry.SMS_GATEWAYS, conf.type, options, self.settings.env)
            return self._gateways[key]

    def mail_gateway(self, slug: str | None) -> MailGateway:
        """The organization's ``[mail]`` gateway; without one (or without an organization) the
        file outbox under var/mail-outbox/."""
        conf = self.org(slug).mail if slug else None
        kind, options = (conf.type, dict(conf.options)) if conf else ("file", {})
        if kind == "file":
            options.setdefault("path", str(self.settings.var_dir / "mail-outbox"))
        with self._lock:
            if (slug or "") not in self._mailers:
                self._mailers[slug or ""] = registry.create(
                    registry.MAIL_GATEWAYS, kind, options, self.settings.env)
            return self._mailers[slug or ""]

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *,
              adapters: Mapping[str, CorrespondenceSystem] | None = None,
              gateways: Mapping[str, SmsGateway] | None = None,
              texts: TextCatalog | None = None,
              webhook_sink: WebhookSink | None = None,
              scanners: Mapping[str, VirusScanner] | None = None) -> Pishkhan:
    """``adapters``, ``gateways``, ``webhook_sink`` and ``scanners`` (by organization slug;
    "" = the process's scanner) replace what the configuration would build, for tests."""
    settings = settings or load_settings()
    orgs, problems = load_organizations(settings.orgs_dir, settings.env)
    for problem in problems:
        log.error("organization config: %s", problem)
    try:
        calendar, _ = holidays.load(settings.env)
    except (OSError, ValueError) as exc:  # a bad update file: say so, keep the shipped data
        problems.append(Problem(settings.env.get("PISHKHAN_HOLIDAYS_FILE", ""), "-", str(exc),
                                "fix the holiday file or unset PISHKHAN_HOLIDAYS_FILE"))
        log.error("holiday calendar: %s", exc)
        calendar, _ = holidays.load({})
    engine = make_engine(settings.database_url, ping_after_idle=settings.db_ping_after_idle)
    if texts is None:
        texts = registry.load(registry.SMS_TEXTS, "default")()
    sessions = make_session_factory(engine)
    bookkeeping.install(sessions)
    px = Pishkhan(settings=settings, orgs=orgs, problems=problems, engine=engine,
                  sessions=sessions, blobs=BlobStore(settings.blob_dir), texts=texts,
                  holidays=calendar,
                  tokens=TokenCache(settings.var_dir / "tokens-revoked"))
    px.webhook_sink = webhook_sink or HttpWebhookSink(
        connect_timeout=settings.webhook_connect_timeout,
        read_timeout=settings.webhook_timeout)
    px._adapters.update(adapters or {})
    px._gateways.update(gateways or {})
    px._scanners.update({k: Scanning(v) for k, v in (scanners or {}).items()})
    return px


PLATFORM_SMS = "PISHKHAN_SMS_GATEWAY"


def platform_sms_problems(px: Pishkhan) -> list[Problem]:
    """The platform's gateway for one-time codes (PISHKHAN_SMS_GATEWAY): if it cannot be built,
    no citizen can sign in, whatever the organization files say."""
    try:
        for conf in px.sms_policy(None).gateways:
            px.gateway(None, conf.name)
    except (ConfigurationError, NotFound) as exc:
        detail = getattr(exc, "detail", "") or str(exc)
        return [Problem("environment (.env)", PLATFORM_SMS, detail,
                        "use file, org:SLUG (an organization's gateways) or a gateway type: "
                        + ", ".join(registry.names(registry.SMS_GATEWAYS)))]
    return []


def startup_problems(px: Pishkhan) -> list[Problem]:
    """What stops the portal and the worker from starting: an organization file that did not
    load (its citizens would silently get 404s)."""
    return list(px.problems)


def check_plugins(px: Pishkhan, slugs: list[str] | None = None) -> list[Problem]:
    """Build every organization's (or just these) adapter and gateway so their own option
    checks run; for every organization, the platform's one-time-code gateway too."""
    problems: list[Problem] = [] if slugs is not None else platform_sms_problems(px)
    for slug, org in px.orgs.items():
        if slugs is not None and slug not in slugs:
            continue
        builds: list[tuple[str, Callable[[], object]]] = [("adapter", lambda: px.adapter(slug))]
        builds += [("sms", lambda g=g: px.gateway(slug, g.name)) for g in org.sms_policy.gateways]
        builds.append(("scanner", lambda: px.scanner(slug)))
        builds.append(("mail", lambda: px.mail_gateway(slug)))
        for key, build in builds:
            try:
                build()
            except ConfigurationError as exc:
                problems.append(Problem(str(org.path), key, exc.detail,
                                        f"fix the [{key}] table"))
    return problems
