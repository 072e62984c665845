"""The organization file, declared: one small pydantic model per table of the TOML file.

These models are the single description of the file: :mod:`connector.config.organizations`
validates every file with them (a wrong key, type or number becomes a Problem naming the file,
the key and the fix) and ``pishkhan config schema`` writes their JSON Schema for editors.

To add a key: add a field to the model of its table, with a default (so older files stay valid),
a ``description`` (shown by editors) and ``examples`` (used in the fix of an error message);
bounds with ``ge``/``le``. A new table is a new model here and a field on OrganizationFile.
Read the value from ``Organization.file`` (or copy it onto Organization when code uses it a lot).
Checks across tables (a service's unit must exist) live in organizations.py.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.outbox.policy import QuietHours

SLUG = r"^[a-z0-9][a-z0-9-]{1,39}$"


class Table(BaseModel):
    """A table of the file: unknown keys are refused (a typo is not ignored), values are not
    coerced (``"5"`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PluginTable(BaseModel):
    """A table whose other keys belong to a plugin (adapter or SMS gateway), which validates
    them itself with its own model."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class UnitTable(Table):
    """``[[units]]``: a unit of the organization, by our code and the system's."""

    code: str = Field(description="our code for the unit", examples=["sec"], min_length=1)
    name: str = Field(description="the unit's Persian name", examples=["دبیرخانه مرکزی"])
    system_code: str | None = Field(None, description="the correspondence system's code for "
                                    "it (default: code)", examples=["SEC"])
    controllers: list[str] = Field(default_factory=list,
                                   description="staff user names who decide its letters")


class FaqEntry(Table):
    question: str = Field(examples=["چقدر طول می‌کشد؟"])
    answer: str = Field(examples=["معمولا تا ده روز کاری."])


class ServiceTable(Table):
    """``[[services]]``: an entry of the service catalog; its unit decides the routing."""

    code: str = Field(description="the service's code", examples=["general"], min_length=1)
    title: str = Field(description="its Persian title", examples=["نامه به دبیرخانه"])
    unit: str | None = Field(None, description="code of the unit it goes to (default: the "
                             "secretariat unit)", examples=["sec"])
    description: str = ""
    steps: list[str] = Field(default_factory=list)
    documents: list[str] = Field(default_factory=list)
    rules: str = ""
    faq: list[FaqEntry] = Field(default_factory=list)
    duration_days: int | None = Field(None, ge=1, le=3650, examples=[10],
                                      description="working days to complete it")
    fees: str = ""
    complaint: str = ""
    responsible: str = ""


class AttachmentsTable(Table):
    """``[attachments]``: what a citizen may attach to one letter."""

    max_files: int = Field(5, ge=0, le=20, description="files per letter", examples=[5])
    max_mb: int = Field(10, ge=1, le=50, description="megabytes per file", examples=[10])


class AdapterTable(PluginTable):
    """``[adapter]``: the correspondence system. ``type`` picks the adapter; the rest are its
    options (see docs/adapters; ``${NAME}`` is filled from the environment)."""

    type: str = Field(description="the adapter: soap, odbc or a plugin's name",
                      examples=["soap"], min_length=1)


class GatewayTable(PluginTable):
    """``[[sms.gateways]]``: one SMS provider; the rest are the provider's options."""

    type: str = Field(description="the provider", examples=["kavenegar"], min_length=1)
    name: str | None = Field(None, description="a name of its own (default: type)")
    priority: int | None = Field(None, ge=1, description="1 is tried first", examples=[1])
    otp_template: str | None = Field(None, description="the provider's template for "
                                     "one-time codes")


class SmsTable(PluginTable):
    """``[sms]``: one gateway (``type`` and its options) or ``[[sms.gateways]]``, plus the
    sending rules and text overrides."""

    type: str | None = Field(None, description='one gateway: its type (default "file")',
                             examples=["file"])
    gateways: list[GatewayTable] | None = Field(None, min_length=1)
    quiet_hours: str | None = Field(None, examples=["22:00-07:00"],
                                    description="Tehran time; progress texts wait")
    rate_per_minute: int | None = Field(None, ge=1, examples=[60])
    texts: dict[str, str] = Field(default_factory=dict,
                                  description="SMS text overrides by kind")

    @field_validator("quiet_hours")
    @classmethod
    def _span(cls, value: str | None) -> str | None:
        QuietHours.parse(value or "")  # its ValueError says what is wrong
        return value


class RetentionTable(Table):
    """``[retention]``: how long each kind of personal data is kept before the retention run
    destroys it (connector/operations/retention.py). Numbers above zero; fractions allowed."""

    drafts_hours: float = Field(24, gt=0, description="files held between the form's steps")
    otp_days: float = Field(7, gt=0, description="one-time-code challenges")
    tokens_days: float = Field(30, gt=0, description="sign-in tokens, after they expire")
    sms_text_days: float = Field(90, gt=0, description="SMS texts (then blanked)")
    letters_years: float = Field(5, gt=0, description="letters and attachments, after closure")
    visitors_days: float = Field(365, gt=0, description="in-person visits with their scans, "
                                 "after the visit; then the visitor and photos")


class ScannerTable(PluginTable):
    """``[scanner]``: this organization's own virus scanner (else PISHKHAN_SCANNER's)."""

    type: str = Field(description="the scanner: clamav, or none", examples=["clamav"],
                      min_length=1)


class IdentityTable(Table):
    """``[identity]``: identity look-ups for this organization (connector/plugins/identity.py)."""

    mobile_check: bool = Field(False, description="a person's letter needs a mobile that the "
                               "registry (Shahkar-style) says is theirs")


class CalendarTable(Table):
    """``[calendar]``: working days for promised dates, besides Fridays and the official
    holidays (connector/config/holidays.toml)."""

    closures: list[str] = Field(default_factory=list, examples=[["1405-02-10"]],
                                description="the organization's own closed days (Jalali)")
    thursday: Literal["full", "half", "closed"] = Field(
        "full", description="Thursdays: a full working day, a morning (half), or closed")


class ObjectionsTable(Table):
    """``[objections]``: a citizen may object once to a rejection."""

    window_days: int = Field(10, ge=0, le=365, examples=[10],
                             description="working days after the rejection (0: none taken)")
    unit: str = Field("", description="code of the unit objections go to (default: the "
                      "secretariat unit)", examples=["sec"])


class MailTable(PluginTable):
    """``[mail]``: e-mail to citizens who ask for it (default: .eml files in
    var/mail-outbox/); ``type = "smtp"`` with host, port, from, username_env, password_env,
    starttls, ca_file, timeout."""

    type: str = Field("file", description="file or smtp", examples=["smtp"], min_length=1)


class OrganizationFile(Table):
    """One organization: ``config/organizations/SLUG.toml``."""

    model_config = ConfigDict(title="Pishkhan organization file")

    slug: str | None = Field(None, pattern=SLUG, examples=["demo"],
                             description="2-40 lowercase Latin letters, digits and dashes "
                             "(default: the file's name)")
    name: str = Field(description="the Persian name", examples=["شهرداری نمونه"])
    name_en: str | None = Field(None, examples=["Demo Municipality"])
    approval: Literal["inbox", "portal"] = Field(
        description="inbox: controllers decide in their cartable; portal: in the console")
    routing: Literal["secretariat", "unit"] = "secretariat"
    secretariat_unit: str | None = Field(None, description="code of the secretariat unit "
                                         "(default: the first unit)", examples=["sec"])
    poll_interval: float = Field(30.0, gt=0, le=86400, examples=[30],
                                 description="seconds between routing polls")
    delivery_concurrency: int = Field(1, ge=1, le=64, examples=[4],
                                      description="letters delivered at once")
    rejection_reasons: list[str] = Field(default_factory=list)
    units: list[UnitTable] = Field(min_length=1)
    services: list[ServiceTable] = Field(min_length=1)
    adapter: AdapterTable
    sms: SmsTable = Field(default_factory=SmsTable)
    attachments: AttachmentsTable = Field(default_factory=AttachmentsTable)
    retention: RetentionTable = Field(default_factory=RetentionTable)
    scanner: ScannerTable | None = None
    identity: IdentityTable = Field(default_factory=IdentityTable)
    # issue 14: promised dates, objections, e-mail
    calendar: CalendarTable = Field(default_factory=CalendarTable)
    objections: ObjectionsTable = Field(default_factory=ObjectionsTable)
    mail: MailTable | None = None


def json_schema(adapters: Mapping[str, type[BaseModel]] | None = None,
                gateways: Mapping[str, type[BaseModel]] | None = None) -> dict[str, Any]:
    """The JSON Schema of the organization file (for editors: completion and checks).
    ``adapters`` and ``gateways``: the options model of each installed plugin by type name;
    their options are then checked too, by the table's ``type``."""
    schema = OrganizationFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    defs = schema["$defs"]
    _by_type(defs["AdapterTable"], adapters or {})
    _by_type(defs["GatewayTable"], gateways or {})
    _by_type(defs["SmsTable"], gateways or {}, default="file")
    return schema


def _by_type(table: dict[str, Any], models: Mapping[str, type[BaseModel]],
             default: str | None = None) -> None:
    """A plugin table's options by its ``type``: if type is X, X's options and the table's
    own keys, nothing else."""
    rules = []
    for name, model in sorted(models.items()):
        options = model.model_json_schema()
        then = {"properties": {**options.get("properties", {}), **table["properties"],
                               "type": {"const": name}},
                "required": options.get("required", []), "additionalProperties": False}
        when: dict[str, Any] = {"properties": {"type": {"const": name}}, "required": ["type"]}
        if name == default:  # the type may be left out
            when = {"anyOf": [when, {"not": {"required": ["type"]}}]}
        rules.append({"if": when, "then": then})
    if rules:
        table["allOf"] = rules
