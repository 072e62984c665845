"""The parsed form of a SOAP profile (what profile.py reads from TOML; see docs/adapters.md)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.domain.letter import ChangeKind

from ..options import map_kind
from .templates import resolve_answer

# What an answer's result code can mean (docs/adapters.md, "Result codes").
STATUS_CLASSES = ("ok", "ignore", "not-found", "already-exists", "relogin", "transient",
                  "permanent", "configuration", "ambiguous")
PASS_AS = ("argument", "header", "cookie")
PARAM_TYPES = ("str", "int", "bool", "secret")
# Our states a feedless system's status can map to (``[find.statuses]``); "delivered" = still
# waiting in the inbox, "ignore" = a status that says nothing new.
SNAPSHOT_KINDS = ("registered", "rejected", "referred", "answered", "closed", "delivered",
                  "ignore")


@dataclass(frozen=True)
class Reconcile:
    """How to tell whether a step that may have taken effect did."""
    call: str
    args: Mapping[str, Any] = field(default_factory=dict)
    list: str = ""
    match: Mapping[str, Any] = field(default_factory=dict)
    present: tuple[str, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)
    codes: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool = True  # a look-up changes nothing


@dataclass(frozen=True)
class Step:
    call: str
    args: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    for_each: str | None = None
    when: str | None = None
    reconcile: Reconcile | None = None
    # This step's result codes over the operation's and the profile's (``codes = {"3" = …}``).
    codes: Mapping[str, str] = field(default_factory=dict)
    # A repeated call does no harm (e.g. "set the unit"): failures after sending are transient.
    idempotent: bool = False


@dataclass(frozen=True)
class StatusCodes:
    """Where answers carry their result code, and the profile-wide table of what codes mean."""
    path: str
    message: str = ""
    codes: Mapping[str, str] = field(default_factory=dict)
    default: str = "permanent"
    ok_when_absent: bool = True

    def classify(self, answer: Any, overrides: Mapping[str, str] | None = None
                 ) -> tuple[str, str, str]:
        """(class, code, message) of one answer; the step's ``overrides`` win over the table."""
        code = resolve_answer(answer, self.path)
        if code is None:
            return ("ok" if self.ok_when_absent else self.default), "", ""
        # zeep gives xs:boolean as True/False; the XML and the admin say true/false.
        code_text = ("true" if code else "false") if isinstance(code, bool) else str(code).strip()
        message = str(resolve_answer(answer, self.message) or "") if self.message else ""
        table = {**self.codes, **(overrides or {})}
        if code_text not in table:  # "OK" and "ok", "True" and "true" mean the same
            table = {k.strip().lower(): v for k, v in table.items()}
            return table.get(code_text.lower(), self.default), code_text, message
        return table[code_text], code_text, message


@dataclass(frozen=True)
class Session:
    """How to log in, where the ticket is, how to pass it, when to log in again."""
    call: str
    args: Mapping[str, Any]
    ticket: str                       # path of the ticket in the login answer ("" = cookie)
    pass_as: str = "argument"         # argument ({session} in steps) | header | cookie
    header: str = ""                  # header mode: element, "AuthHeader" or "AuthHeader.Ticket"
    header_namespace: str = ""        # header mode: its namespace ("" = the WSDL's)
    cookie: str = ""                  # cookie mode: the cookie's name
    lifetime_seconds: float = 0       # 0 = until the system says it expired
    relogin_faults: tuple[str, ...] = ()
    logout: Reconcile | None = None
    codes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    type: str = "str"
    default: Any = None
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Operation:
    steps: tuple[Step, ...]
    codes: Mapping[str, str] = field(default_factory=dict)
    # find only: the system's status values -> ours (a feedless system's look-ups).
    statuses: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    operations: Mapping[str, Operation]
    change_item: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    status: StatusCodes | None = None
    date_format: str = "iso"
    cursor: str = "id"
    overlap_days: int = 1
    sweep_every: int = 0
    sweep_days: int = 7
    session: Session | None = None
    params: Mapping[str, Param] = field(default_factory=dict)
    maps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "profile"
    # Where value maps are used: (where, placeholder, field, map), checked per organization.
    map_uses: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def multi_step(self) -> bool:
        steps = self.operations["deliver"].steps
        return len(steps) > 1 or steps[0].for_each is not None

    def calls(self) -> set[str]:
        """Every WSDL operation the profile uses, to check against the WSDL once it is loaded."""
        found = {c for op in self.operations.values() for s in op.steps
                 for c in (s.call, s.reconcile.call if s.reconcile else None) if c}
        if self.session:
            found.add(self.session.call)
            if self.session.logout:
                found.add(self.session.logout.call)
        return found

    def kind(self, system_kind: str) -> ChangeKind | str | None:
        """Our kind for the system's, IGNORE, or None when the profile does not know it."""
        return map_kind(self.kinds, system_kind)
