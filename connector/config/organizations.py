"""Organization files: one TOML file per organization, validated by the models of
:mod:`connector.config.orgfile` with errors that name the file, the key and the fix, and turned
into the :class:`Organization` the rest of the code reads. Secrets never live in these files;
they name environment variables."""
from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connector.config.followups import Objections, parse_objections
from connector.config.holidays import OrgCalendar, parse_org_calendar
from connector.config.orgfile import SLUG, OrganizationFile, PluginTable, SmsTable
from connector.config.retention import RetentionPolicy
from connector.letters.files import Limits
from connector.outbox.policy import GatewayConfig, QuietHours, SmsPolicy
from connector.plugins.explain import describe

APPROVAL_MODES = ("inbox", "portal")
ROUTING_POLICIES = ("secretariat", "unit")
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
    # The validated file: keys added to connector/config/orgfile.py are read from here.
    file: OrganizationFile | None = field(default=None, repr=False, compare=False)
    # issue 14: [calendar] (connector/config/holidays.py), [mail] (the mail/ package; default
    # the file outbox), [objections] (connector/config/followups.py)
    calendar: OrgCalendar = OrgCalendar()
    mail: PluginConfig = PluginConfig(type="file")
    objections: Objections = Objections()

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


# Fixes for keys whose line cannot be shown by one example value.
_FIXES = {
    "units": "add at least one [[units]] table with code, name and system_code",
    "services": "add at least one [[services]] table with code, title and unit",
    "adapter": 'add an [adapter] table with type = "soap" (or "odbc") and its options',
    "adapter.type": 'add type = "soap" (or "odbc") under [adapter]',
    "sms.gateways": "write one [[sms.gateways]] table per provider with type and priority",
    "sms.texts": 'write [sms.texts] with lines like registered = "متن"',
    "sms.quiet_hours": 'write quiet_hours = "22:00-07:00" or ""',
    "slug": "use 2-40 lowercase Latin letters, digits and dashes",
    "faq": 'write faq = [{ question = "...", answer = "..." }]',
}


def _problem(file: str, err: Any) -> Problem:
    """One pydantic error as a Problem: the key, what is wrong and the line to write."""
    return Problem(file, *describe(OrganizationFile, err, _FIXES))


def _interpolate(value: Any, env: Mapping[str, str], file: str, key: str,
                 problems: list[Problem]) -> Any:
    """``${NAME}`` in option strings is replaced from the environment (addresses, not secrets)."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                problems.append(Problem(file, key, f"uses ${{{m.group(1)}}}, which is not set",
                                        f"set {m.group(1)} in the environment or .env"))
                return ""
            return env[m.group(1)]
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, env, file, f"{key}.{k}", problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, file, key, problems) for v in value]
    return value


def _options(table: PluginTable, skip: tuple[str, ...]) -> dict[str, Any]:
    """A plugin table's own options: the keys its model does not declare."""
    return {k: v for k, v in (table.model_extra or {}).items() if k not in skip}


def _sms_policy(sms: SmsTable, env: Mapping[str, str], file: str,
                problems: list[Problem]) -> SmsPolicy:
    """``[sms]`` is either one gateway (``type = "file"`` and its options) or a list of them
    under ``[[sms.gateways]]`` with priorities (1 is tried first), plus the sending rules."""
    if sms.gateways is None:
        kind = sms.type or "file"
        gateways = [GatewayConfig(name=kind, type=kind, priority=1, options=_interpolate(
            _options(sms, ()), env, file, "sms", problems))]
    else:
        gateways = [GatewayConfig(
            name=g.name or g.type, type=g.type, priority=g.priority or i + 1,
            otp_template=g.otp_template,
            options=_interpolate(_options(g, ()), env, file, f"sms.gateways[{i}]", problems))
            for i, g in enumerate(sms.gateways)]
    quiet = None
    span = sms.quiet_hours if sms.quiet_hours is not None else env.get(
        "PISHKHAN_SMS_QUIET_HOURS", "")
    try:
        quiet = QuietHours.parse(span or "")
    except ValueError as exc:  # only PISHKHAN_SMS_QUIET_HOURS can be wrong here
        problems.append(Problem(file, "sms.quiet_hours", f"{exc} (PISHKHAN_SMS_QUIET_HOURS)",
                                'write quiet_hours = "22:00-07:00" or ""'))
    return SmsPolicy(gateways=tuple(sorted(gateways, key=lambda g: g.priority)),
                     quiet_hours=quiet, rate_per_minute=sms.rate_per_minute)


def _first_gateway(policy: SmsPolicy) -> PluginConfig:
    """``Organization.sms``: the gateway tried first (the only one in the single-table form)."""
    if not policy.gateways:
        return PluginConfig(type="")
    first = policy.gateways[0]
    return PluginConfig(type=first.type, options=first.options)


def _cross_checks(data: Mapping[str, Any], file: str, problems: list[Problem]) -> None:
    """What one table cannot check alone: unit codes used elsewhere must exist. Runs on the raw
    data, so these are reported together with the models' own errors."""
    sms = data.get("sms")
    listed = sms.get("gateways") if isinstance(sms, dict) else None
    if isinstance(listed, list):
        names = [g.get("name", g.get("type")) for g in listed if isinstance(g, dict)]
        for dup in sorted({n for n in names if n and names.count(n) > 1}):
            problems.append(Problem(file, "sms.gateways", f"two gateways are named {dup!r}",
                                    'give each its own name = "..."'))
    units = data.get("units")
    units = units if isinstance(units, list) else []
    codes = [u["code"] for u in units if isinstance(u, dict) and isinstance(u.get("code"), str)]
    if not codes:
        return
    for dup in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(Problem(file, "units", f"unit code {dup!r} is used twice",
                                "give each unit its own code"))
    secretariat = data.get("secretariat_unit", codes[0])
    if isinstance(secretariat, str) and secretariat not in codes:
        problems.append(Problem(file, "secretariat_unit", f"{secretariat!r} is not one of the "
                                "units", f"use one of: {', '.join(codes)}"))
    # [calendar] dates and the [objections] unit (their models check the shape).
    for key, message, fix in parse_org_calendar(data.get("calendar"))[1] + \
            parse_objections(data.get("objections"), codes)[1]:
        if key in ("calendar.closures", "objections.unit"):
            problems.append(Problem(file, key, message, fix))
    services = data.get("services")
    for i, s in enumerate(services if isinstance(services, list) else []):
        unit = s.get("unit") if isinstance(s, dict) else None
        if isinstance(unit, str) and unit not in codes:
            problems.append(Problem(file, f"services[{i}].unit", f"{unit!r} is not one of "
                                    "the units", f"use one of: {', '.join(codes)}"))


def parse_organization(path: Path, data: Mapping[str, Any], env: Mapping[str, str],
                       problems: list[Problem]) -> Organization | None:
    """Validate one file's data; each mistake is appended to ``problems`` (None if any)."""
    file = str(path)
    before = len(problems)
    try:
        f = OrganizationFile.model_validate(dict(data))
    except ValidationError as exc:
        problems.extend(_problem(file, err) for err in exc.errors())
        f = None
    _cross_checks(data, file, problems)
    if f is None:
        for table in ("adapter", "sms"):  # report unset ${NAME}s in the same run
            if isinstance(data.get(table), dict):
                _interpolate(data[table], env, file, table, problems)
        return None
    secretariat = f.secretariat_unit or f.units[0].code
    slug = f.slug or path.stem
    if not re.match(SLUG, slug):
        problems.append(Problem(file, "slug", f"{slug!r} (the file's name) is not a valid slug",
                                'add slug = "..." with 2-40 lowercase Latin letters, digits '
                                "and dashes"))
    policy = _sms_policy(f.sms, env, file, problems)
    units = tuple(Unit(code=u.code, name=u.name, system_code=u.system_code or u.code,
                       controllers=tuple(u.controllers)) for u in f.units)
    services = tuple(Service(
        code=s.code, title=s.title, unit=s.unit or secretariat, description=s.description,
        steps=tuple(s.steps), documents=tuple(s.documents), rules=s.rules,
        faq=tuple((q.question, q.answer) for q in s.faq), duration_days=s.duration_days,
        fees=s.fees, complaint=s.complaint, responsible=s.responsible) for s in f.services)
    org = Organization(
        slug=slug, name=f.name, name_en=f.name_en or slug, approval=f.approval,
        routing=f.routing, secretariat_unit=secretariat, poll_interval=f.poll_interval,
        delivery_concurrency=f.delivery_concurrency, units=units, services=services,
        adapter=PluginConfig(type=f.adapter.type, options=_interpolate(
            _options(f.adapter, ()), env, file, "adapter", problems)),
        sms=_first_gateway(policy), texts=dict(f.sms.texts),
        rejection_reasons=tuple(f.rejection_reasons), path=path, sms_policy=policy,
        attachments=Limits(max_files=f.attachments.max_files, max_mb=f.attachments.max_mb),
        scanner=None if f.scanner is None else PluginConfig(
            type=f.scanner.type, options=_interpolate(_options(f.scanner, ()), env, file,
                                                      "scanner", problems)),
        retention=RetentionPolicy(**f.retention.model_dump()), file=f,
        calendar=parse_org_calendar(f.calendar.model_dump())[0],
        objections=Objections(f.objections.window_days, f.objections.unit),
        mail=PluginConfig(type="file") if f.mail is None else PluginConfig(
            type=f.mail.type, options=_interpolate(_options(f.mail, ("type",)), env, file,
                                                   "mail", problems)))
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
                                    f"{orgs[org.slug].path.name} too",
                                    "give each file its own slug"))
            continue
        orgs[org.slug] = org
    if not orgs and not problems:
        problems.append(Problem(str(folder), "-", "holds no organization file",
                                "add a NAME.toml file (see config/organizations/demo.toml)"))
    return orgs, problems
