"""The contracts the core depends on. Adapters (``pishkhan.adapters`` entry points) implement
``CorrespondenceSystem``; SMS gateways (``pishkhan.sms_gateways``) implement ``SmsGateway``;
virus scanners (``pishkhan.scanners``) implement ``VirusScanner``.
Each raises the error classes of :mod:`connector.domain.errors`."""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from connector.domain.errors import ExternalError
from connector.domain.letter import (
    Capabilities,
    DeliveryReceipt,
    Document,
    OutgoingAttachment,
    OutgoingLetter,
    PollResult,
)

# A tracking code no letter has (its check digit is wrong), for the dry-run look-up.
DRY_RUN_CODE = "000000000001"


class DeliveryProgress(abc.ABC):
    """The finished steps of one letter's delivery, kept by the core across attempts, so a
    delivery that takes several calls (insert the letter, attach each file, number it) resumes
    where it stopped instead of creating a second letter, attachment or number.

    ``uncertain``: the previous attempt failed ambiguously, so the first unfinished step may
    have taken effect and must be looked up before it is repeated. ``found``: what the core's
    reconciliation (``find`` by tracking code) found for this attempt, or None."""

    uncertain: bool = False
    found: DeliveryReceipt | None = None

    @abc.abstractmethod
    def get(self, step: str) -> Any:
        """The value stored for ``step``, or None if the step has not finished."""

    @abc.abstractmethod
    def put(self, step: str, value: Any) -> None:
        """Record a finished step (a JSON value); it is durable when this returns."""


class MemoryProgress(DeliveryProgress):
    """Progress kept for one call only: for a plain ``deliver`` and for tests."""

    def __init__(self, steps: Mapping[str, Any] | None = None) -> None:
        self.steps: dict[str, Any] = dict(steps or {})

    def get(self, step: str) -> Any:
        return self.steps.get(step)

    def put(self, step: str, value: Any) -> None:
        self.steps[step] = value


@dataclass(frozen=True)
class Check:
    """One line of ``pishkhan adapter check``."""

    name: str
    ok: bool
    detail: str


class CorrespondenceSystem(abc.ABC):
    """One organization's office-automation system."""

    capabilities: Capabilities = Capabilities()

    @abc.abstractmethod
    def deliver(self, letter: OutgoingLetter) -> DeliveryReceipt:
        """Put the letter in the system as a pending incoming letter."""

    def deliver_resuming(self, letter: OutgoingLetter, progress: DeliveryProgress
                         ) -> DeliveryReceipt:
        """Deliver in steps, skipping those ``progress`` holds and recording each one finished.
        Adapters that deliver in one call need not override it (set
        ``capabilities.resumable_delivery`` when they do)."""
        return self.deliver(letter)

    @abc.abstractmethod
    def find(self, tracking_code: str) -> DeliveryReceipt | None:
        """Look a letter up by our tracking code (to reconcile after an ambiguous failure)."""

    def add_attachments(self, external_id: str, tracking_code: str,
                        attachments: tuple[OutgoingAttachment, ...]) -> None:
        """Add files to a letter already in the system (``capabilities.add_attachments``).
        Must be safe to repeat: a file the letter already has (same name and size) is not
        added again, so a retry after an ambiguous failure adds nothing twice."""
        raise NotImplementedError

    def attachments_present(self, external_id: str, tracking_code: str,
                            attachments: tuple[OutgoingAttachment, ...]) -> tuple[bool, ...]:
        """Which of these files the letter in the system already has (same name and size),
        one flag per file: asked before files that could not be added are sent as a
        follow-up letter, so none already there goes twice. Raises NotImplementedError
        where the system cannot list a letter's files."""
        raise NotImplementedError

    @abc.abstractmethod
    def changes(self, cursor: str) -> PollResult:
        """Routing changes since ``cursor`` ('' = from the start) and the cursor to use next."""

    def fetch_reply(self, external_id: str) -> Document | None:
        return None

    @abc.abstractmethod
    def ping(self) -> str:
        """Reach the system and authenticate; return a one-line description."""

    def close(self) -> None:
        """Release connections; called when the adapter is thrown away."""

    def last_exchange(self) -> tuple[str, str]:
        """The last request and response sent to and received from the system, secrets masked,
        for an admin diagnosing a failure ("" where the adapter keeps none)."""
        return "", ""

    def structure(self) -> str:
        """Check that the system offers what the configuration uses (WSDL operations, tables);
        return a one-line description or raise the error classes. Nothing is written."""
        return "not checked by this adapter"

    def check(self) -> list[Check]:
        """The checks of ``pishkhan adapter check``, in order, stopping at the first failure
        (the later ones would only fail the same way): what the system offers, reaching and
        signing in, and a look-up of a tracking code that does not exist (a dry run)."""
        steps = (("what the configuration uses is there", self.structure),
                 ("reach and sign in", self.ping),
                 ("look-up by tracking code (dry run)", self._dry_run))
        results = []
        for name, run in steps:
            try:
                results.append(Check(name, True, run()))
            except ExternalError as exc:
                results.append(Check(name, False, f"{exc.kind}: {exc.detail}"))
                break
        return results

    def _dry_run(self) -> str:
        found = self.find(DRY_RUN_CODE)
        return "answered (nothing found, nothing written)" if found is None else \
            f"answered (a letter {found.external_id} has the dry-run code)"


SMS_STATES = ("created", "sending", "pending", "delivered", "temporary-failure",
              "permanent-failure", "technical-failure")
SMS_FINAL = frozenset({"delivered", "temporary-failure", "permanent-failure", "technical-failure"})


@dataclass(frozen=True)
class SmsResult:
    provider_message_id: str
    status: str = "pending"  # the outbox state the message is in after this call
    raw: str = ""  # the provider's own code or status text, kept for the admin


@dataclass(frozen=True)
class InboundSms:
    """A text a citizen sent to the organization's line, as the provider's inbox holds it."""

    provider_id: str  # the provider's own id for the message: the key it is recorded once by
    sender: str       # the sender's number as the provider wrote it (09…, 989…, +989…)
    text: str
    received_at: datetime | None = None  # naive UTC, when the provider says
    line: str = ""    # our number it was sent to


@dataclass(frozen=True)
class SmsGatewayCapabilities:
    supports_client_reference: bool = False
    supports_status_query: bool = False
    supports_template: bool = False
    # The provider can say whether it holds a message with our client reference; the only safe
    # way to settle a send that timed out without resending it.
    supports_status_by_reference: bool = False
    # The provider keeps texts sent to our line and lets us read them (``receive``).
    supports_inbox: bool = False
    # The provider calls a URL of ours with each text (``parse_push``), behind a secret token.
    supports_inbound_push: bool = False


class SmsGateway(abc.ABC):
    name: str = ""
    capabilities: SmsGatewayCapabilities = SmsGatewayCapabilities()
    # The secret part of our push URL for this gateway's texts (from ``inbound_token_env``).
    push_token: str | None = None

    @abc.abstractmethod
    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        """Send one message; ``to`` is 09xxxxxxxxx. Raise the error classes on failure."""

    def send_template(
        self, to: str, template: str, params: Mapping[str, str], client_reference: str
    ) -> SmsResult:
        raise NotImplementedError

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        """Where each message stands, by provider message id, for those the provider knows."""
        return {}

    def find(self, client_reference: str) -> SmsResult | None:
        """The message the provider holds under our reference, or None if it has none (it never
        took it). Only called when ``supports_status_by_reference``."""
        raise NotImplementedError

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        """Texts that reached our line after ``cursor`` ("" = a first read: a bounded look-back,
        not the line's whole history), and the cursor to pass next time. A message may come back twice (a provider
        that marks texts read, a cursor saved before a crash): the core records each provider
        id once. Only called when ``supports_inbox``; raises the error classes."""
        raise NotImplementedError

    def inbox_note(self, cursor: str) -> str | None:
        """What the admin should know about a read that went well but not wholly (cut at a
        page cap, texts passed over), from the cursor ``receive`` returned; None if nothing."""
        return None

    def parse_push(self, fields: Mapping[str, str]) -> list[InboundSms]:
        """The texts in one call the provider made to our push URL (query or form fields);
        PermanentError when they are not the provider's shape."""
        raise NotImplementedError


@dataclass(frozen=True)
class MailMessage:
    """One e-mail: a plain-text part and a right-to-left HTML part of the same words."""

    to: str
    subject: str
    text: str
    html: str
    message_id: str  # ours, <…@host>: the same on every attempt, so a resend can be recognized
    sender_name: str = ""


class MailGateway(abc.ABC):
    """Sends e-mail (SMTP, or a folder of .eml files for development); the error classes as
    everywhere: TransientError (retry), AmbiguousError (the server may have taken it),
    PermanentError (the address or the message), ConfigurationError."""

    name: str = ""

    @abc.abstractmethod
    def send(self, message: MailMessage) -> str:
        """Hand the message over; return what the server or folder calls it."""


class TextCatalog(abc.ABC):
    """Turns an event kind and its variables into the SMS text an organization sends."""

    @abc.abstractmethod
    def render(self, kind: str, variables: Mapping[str, Any],
               overrides: Mapping[str, str] | None = None) -> str: ...

    @abc.abstractmethod
    def segments(self, text: str) -> int: ...


class WebhookSink(abc.ABC):
    """Hands one signed CloudEvent to an integrator's endpoint. Raises ``TransientError`` when
    nothing reached the endpoint or it asked us to come back, ``PermanentError`` when it refuses
    the event for good, ``AmbiguousError`` when the request went out and no answer came."""

    @abc.abstractmethod
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body``; returns the HTTP status of an accepted event (2xx)."""


@dataclass(frozen=True)
class ScanResult:
    """A scanner's verdict on one file: clean, or infected with the named signature."""

    clean: bool
    signature: str = ""


CLEAN = ScanResult(True)


class VirusScanner(abc.ABC):
    """Looks at a file's bytes before anything of it is stored. Raises ``TransientError`` when
    the scanner cannot answer now (down, busy, timed out: try again later) and
    ``PermanentError`` when it never will for this file (too large for its limits)."""

    name: str = ""
    # Whether a verdict is worth remembering by the file's hash: a scanner that reads the bytes
    # (clamd) is; one that looks at nothing would only cost a hash of every upload.
    remember: bool = True

    @abc.abstractmethod
    def scan(self, content: bytes | BinaryIO) -> ScanResult: ...

    def ping(self) -> str:
        """Reach the scanner; return a one-line description."""
        return "nothing to reach"


class NoScanner(VirusScanner):
    """The embedded setup's default: every file is taken as clean. Production sets a real
    scanner (``PISHKHAN_SCANNER=clamav``)."""

    name = "none"
    remember = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> NoScanner:
        return cls()

    def scan(self, content: bytes | BinaryIO) -> ScanResult:
        return CLEAN

    def ping(self) -> str:
        return "no virus scanner configured: files are not scanned"


@dataclass(frozen=True)
class Person:
    """What the civil registry says about a national code."""

    first_name: str
    last_name: str
    father_name: str
    alive: bool


class IdentityRegistry(abc.ABC):
    """The civil registry (ثبت احوال), through whatever intermediary the organization uses.
    ``None`` means "no such person"; failures raise the error classes above (a look-up changes
    nothing, so a timeout is transient)."""

    @abc.abstractmethod
    def lookup(self, national_code: str, birth_date: str | None = None) -> Person | None: ...


class MobileOwnership(abc.ABC):
    """Shahkar-style: is this mobile registered to this national code?"""

    @abc.abstractmethod
    def owns(self, mobile: str, national_code: str) -> bool: ...
