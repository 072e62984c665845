"""Organization files: one TOML file per organization, validated with errors that name the file,
the key and the fix. Secrets never live in these files; they name environment variables."""
from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.config.retention import RetentionPolicy, parse_retention
from connector.letters.files import Limits
from connector.outbox.policy import GatewayConfig, QuietHours, SmsPolicy

APPROVAL_MODES = ("inbox", "portal")
ROUTING_POLICIES = ("secretariat", "unit")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message} — {self.fix}"


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    system_code: str
    controllers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    code: str
    title: str
    unit: str
    description: str = ""
    steps: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    rules: str = ""
    faq: tuple[tuple[str, str], ...] = ()
    duration_days: int | None = None
    fees: str = ""
    complaint: str = ""
    responsible: str = ""

    def catalog(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "unit": self.unit,
                "description": self.description, "steps": list(self.steps),
                "documents": list(self.documents), "rules": self.rules,
                "faq": [{"question": q, "answer": a} for q, a in self.faq],
                "duration_days": self.duration_days, "fees": self.fees,
                "complaint": self.complaint, "responsible": self.responsible}


@dataclass(frozen=True)
class PluginConfig:
    """An adapter or SMS gateway: its registered name and its own options, validated by it."""

    type: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Organization:
    slug: str
    name: str
    name_en: str
    approval: str
    routing: str
    secretariat_unit: str
    poll_interval: float
    delivery_concurrency: int
    units: tuple[Unit, ...]
    services: tuple[Service, ...]
    adapter: PluginConfig
    sms: PluginConfig
    texts: Mapping[str, str]
    rejection_reasons: tuple[str, ...]
    path: Path
    attachments: Limits = Limits()
    sms_policy: SmsPolicy = SmsPolicy()
    # [scanner]: this organization's own virus scanner; None = the process's (PISHKHAN_SCANNER).
    scanner: PluginConfig | None = None
    retention: RetentionPolicy = RetentionPolicy()

    def unit(self, code: str) -> Unit | None:
        return next((u for u in self.units if u.code == code), None)

    def unit_name(self, system_code: str | None) -> str | None:
        """The Persian name of a unit the correspondence system names by its own code; a code
        we don't know is shown as the system wrote it."""
        if not system_code:
            return system_code
        unit = next((u for u in self.units if system_code in (u.system_code, u.code)), None)
        return unit.name if unit else system_code

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def system_unit_for(self, service: Service | None) -> str:
        """The correspondence system's unit code the letter goes to, by the routing policy."""
        code = self.secretariat_unit
        if self.routing == "unit" and service is not None:
            code = service.unit
        unit = self.unit(code)
        return unit.system_code if unit else code


class _Reader:
    """Reads typed keys from one TOML table and records a Problem for each bad or missing key."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems

    def problem(self, key: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, key, message, fix))

    def get(self, table: Mapping[str, Any], key: str, kind: type, prefix: str = "",
            default: Any = ..., fix: str = "") -> Any:
        name = f"{prefix}{key}"
        if key not in table:
            if default is ...:
                self.problem(name, "is missing", fix or f"add {name} = ...")
                return None
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(name, f"must be a {kind.__name__}, not {type(value).__name__}",
                         fix or f"write {name} as a {kind.__name__}")
            return None if default is ... else default
        return value

    def choice(self, table: Mapping[str, Any], key: str, choices: tuple[str, ...],
               default: str | None = None) -> str | None:
        value = self.get(table, key, str, default=default if default is not None else ...)
        if value is not None and value not in choices:
            self.problem(key, f"is {value!r}", f"use one of: {', '.join(choices)}")
            return None
        return value


def _interpolate(value: Any, env: Mapping[str, str], reader: _Reader, key: str) -> Any:
    """``${NAME}`` in option strings is replaced from the environment (addresses, not secrets)."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                reader.problem(key, f"uses ${{{m.group(1)}}}, which is not set",
                               f"set {m.group(1)} in the environment or .env")
                return ""
            return env[m.group(1)]
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, env, reader, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, reader, key) for v in value]
    return value


def _plugin(r: _Reader, data: Mapping[str, Any], table: str, default_type: str | None,
            env: Mapping[str, str]) -> PluginConfig:
    raw = data.get(table, {})
    if not isinstance(raw, dict):
        r.problem(table, "must be a table", f"write [{table}] with its keys below it")
        raw = {}
    kind = r.get(raw, "type", str, prefix=f"{table}.",
                 default=default_type if default_type else ...,
                 fix=f'add type = "..." under [{table}]')
    options = {k: v for k, v in raw.items() if k != "type" and k != "texts"}
    return PluginConfig(type=kind or "", options=_interpolate(options, env, r, table))


_SMS_POLICY_KEYS = ("type", "texts", "gateways", "quiet_hours", "rate_per_minute")


def _gateway(r: _Reader, raw: Mapping[str, Any], prefix: str, default_type: str | None,
             priority: int, env: Mapping[str, str]) -> GatewayConfig:
    kind = r.get(raw, "type", str, prefix=prefix, default=default_type or ...,
                 fix=f'add type = "kavenegar" (or another gateway) under [{prefix[:-1]}]')
    prio = r.get(raw, "priority", int, prefix=prefix, default=priority)
    name = r.get(raw, "name", str, prefix=prefix, default=kind or "")
    otp = r.get(raw, "otp_template", str, prefix=prefix, default=None)
    skip = _SMS_POLICY_KEYS + ("name", "priority", "otp_template")
    options = {k: v for k, v in raw.items() if k not in skip}
    return GatewayConfig(name=name or "", type=kind or "", priority=prio or priority,
                         options=_interpolate(options, env, r, prefix[:-1]), otp_template=otp)


def _sms_policy(r: _Reader, data: Mapping[str, Any], env: Mapping[str, str]) -> SmsPolicy:
    """``[sms]`` is either one gateway (``type = "file"`` and its options) or a list of them
    under ``[[sms.gateways]]`` with priorities (1 is tried first), plus the sending rules."""
    raw = data.get("sms", {})
    if not isinstance(raw, dict):
        return SmsPolicy()
    listed = raw.get("gateways")
    if listed is None:
        gateways = [_gateway(r, raw, "sms.", "file", 1, env)]
    elif not isinstance(listed, list) or not listed or not all(isinstance(g, dict)
                                                              for g in listed):
        r.problem("sms.gateways", "must be a list of tables",
                  'write one [[sms.gateways]] table per provider with type and priority')
        gateways = []
    else:
        gateways = [_gateway(r, g, f"sms.gateways[{i}].", None, i + 1, env)
                    for i, g in enumerate(listed)]
    names = [g.name for g in gateways]
    for dup in {n for n in names if names.count(n) > 1}:
        r.problem("sms.gateways", f"two gateways are named {dup!r}",
                  'give each its own name = "..."')
    quiet = None
    span = r.get(raw, "quiet_hours", str, prefix="sms.", default=env.get(
        "PISHKHAN_SMS_QUIET_HOURS", ""))
    try:
        quiet = QuietHours.parse(span or "")
    except ValueError as exc:
        r.problem("sms.quiet_hours", str(exc), 'write quiet_hours = "22:00-07:00" or ""')
    rate = r.get(raw, "rate_per_minute", int, prefix="sms.", default=None)
    if rate is not None and rate < 1:
        r.problem("sms.rate_per_minute", "must be 1 or more", "use a number such as 60")
        rate = None
    return SmsPolicy(gateways=tuple(sorted(gateways, key=lambda g: g.priority)),
                     quiet_hours=quiet, rate_per_minute=rate)


def _first_gateway(policy: SmsPolicy) -> PluginConfig:
    """``Organization.sms``: the gateway tried first (the only one in the single-table form)."""
    if not policy.gateways:
        return PluginConfig(type="")
    first = policy.gateways[0]
    return PluginConfig(type=first.type, options=first.options)


def parse_organization(path: Path, data: Mapping[str, Any], env: Mapping[str, str],
                       problems: list[Problem]) -> Organization | None:
    r = _Reader(str(path), problems)
    before = len(problems)
    slug = r.get(data, "slug", str, default=path.stem)
    if slug and not _SLUG.match(slug):
        r.problem("slug", f"{slug!r} is not a valid slug",
                  "use 2-40 lowercase Latin letters, digits and dashes")
    name = r.get(data, "name", str, fix='add name = "نام سازمان"')
    approval = r.choice(data, "approval", APPROVAL_MODES)
    routing = r.choice(data, "routing", ROUTING_POLICIES, default="secretariat")

    units: list[Unit] = []
    for i, u in enumerate(data.get("units", [])):
        p = f"units[{i}]."
        code = r.get(u, "code", str, prefix=p)
        units.append(Unit(code=code or "", name=r.get(u, "name", str, prefix=p) or "",
                          system_code=r.get(u, "system_code", str, prefix=p, default=code or ""),
                          controllers=tuple(r.get(u, "controllers", list, prefix=p, default=[]))))
    if not units:
        r.problem("units", "no unit is defined",
                  'add at least one [[units]] table with code, name and system_code')
    codes = [u.code for u in units]
    for dup in {c for c in codes if codes.count(c) > 1}:
        r.problem("units", f"unit code {dup!r} is used twice", "give each unit its own code")
    secretariat = r.get(data, "secretariat_unit", str, default=codes[0] if codes else "")
    if codes and secretariat not in codes:
        r.problem("secretariat_unit", f"{secretariat!r} is not one of the units",
                  f"use one of: {', '.join(codes)}")

    services: list[Service] = []
    for i, s in enumerate(data.get("services", [])):
        p = f"services[{i}]."
        unit = r.get(s, "unit", str, prefix=p, default=secretariat)
        if unit and codes and unit not in codes:
            r.problem(f"{p}unit", f"{unit!r} is not one of the units",
                      f"use one of: {', '.join(codes)}")
        faq = tuple((str(f.get("question", "")), str(f.get("answer", "")))
                    for f in r.get(s, "faq", list, prefix=p, default=[]) if isinstance(f, dict))
        services.append(Service(
            code=r.get(s, "code", str, prefix=p) or "",
            title=r.get(s, "title", str, prefix=p) or "",
            unit=unit or "",
            description=r.get(s, "description", str, prefix=p, default=""),
            steps=tuple(r.get(s, "steps", list, prefix=p, default=[])),
            documents=tuple(r.get(s, "documents", list, prefix=p, default=[])),
            rules=r.get(s, "rules", str, prefix=p, default=""),
            faq=faq,
            duration_days=r.get(s, "duration_days", int, prefix=p, default=None),
            fees=r.get(s, "fees", str, prefix=p, default=""),
            complaint=r.get(s, "complaint", str, prefix=p, default=""),
            responsible=r.get(s, "responsible", str, prefix=p, default="")))
    if not services:
        r.problem("services", "no service is defined",
                  "add at least one [[services]] table with code, title and unit")

    sms_raw = data.get("sms", {}) if isinstance(data.get("sms", {}), dict) else {}
    texts = sms_raw.get("texts", {})
    if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
        r.problem("sms.texts", "must be a table of strings", 'write [sms.texts] kind = "متن"')
        texts = {}
    poll = r.get(data, "poll_interval", float, default=30.0)
    if poll is not None and poll <= 0:
        r.problem("poll_interval", "must be more than 0", "use a number of seconds such as 30")
    concurrency = r.get(data, "delivery_concurrency", int, default=1)
    if concurrency is not None and not 1 <= concurrency <= 64:
        r.problem("delivery_concurrency", "must be between 1 and 64", "use a number such as 4")

    att = data.get("attachments", {})
    if not isinstance(att, dict):
        r.problem("attachments", "must be a table", "write [attachments] with max_files, max_mb")
        att = {}
    max_files = r.get(att, "max_files", int, prefix="attachments.", default=Limits.max_files)
    max_mb = r.get(att, "max_mb", int, prefix="attachments.", default=Limits.max_mb)
    if max_files is not None and not 0 <= max_files <= 20:
        r.problem("attachments.max_files", "must be between 0 and 20", "use a number such as 5")
    if max_mb is not None and not 1 <= max_mb <= 50:
        r.problem("attachments.max_mb", "must be between 1 and 50 (megabytes)",
                  "use a number such as 10")

    policy = _sms_policy(r, data, env)
    org = Organization(
        slug=slug or "", name=name or "", name_en=r.get(data, "name_en", str, default=slug or ""),
        approval=approval or "", routing=routing or "", secretariat_unit=secretariat or "",
        poll_interval=poll or 30.0, delivery_concurrency=concurrency or 1,
        units=tuple(units), services=tuple(services),
        adapter=_plugin(r, data, "adapter", None, env),
        sms=_first_gateway(policy),
        texts=dict(texts),
        rejection_reasons=tuple(r.get(data, "rejection_reasons", list, default=[])),
        path=path, sms_policy=policy,
        attachments=Limits(max_files=max_files or 0, max_mb=max_mb or Limits.max_mb),
        scanner=_plugin(r, data, "scanner", None, env) if "scanner" in data else None,
        retention=parse_retention(data.get("retention"), r.problem))
    return org if len(problems) == before else None


def load_organizations(folder: Path, env: Mapping[str, str]
                       ) -> tuple[dict[str, Organization], list[Problem]]:
    problems: list[Problem] = []
    orgs: dict[str, Organization] = {}
    if not folder.is_dir():
        problems.append(Problem(str(folder), "-", "the folder does not exist",
                                "create it or set PISHKHAN_ORGS_DIR"))
        return orgs, problems
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), "-", f"is not valid TOML ({exc})",
                                    "fix the syntax at the place named"))
            continue
        org = parse_organization(path, data, env, problems)
        if org is None:
            continue
        if org.slug in orgs:
            problems.append(Problem(str(path), "slug", f"{org.slug!r} is used by "
                                    f"{orgs[org.slug].path.name} too", "give each file its own slug"))
            continue
        orgs[org.slug] = org
    if not orgs and not problems:
        problems.append(Problem(str(folder), "-", "holds no organization file",
                                "add a NAME.toml file (see config/organizations/demo.toml)"))
    return orgs, problems
