"""Fakes that implement the core's ports in memory, for unit tests of the use cases. Integration
and end-to-end tests use the real adapters against the real sandbox instead."""
from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from datetime import datetime, timezone

from connector.domain.errors import ExternalError
from connector.domain.letter import (
    Capabilities,
    ChangeKind,
    DeliveryReceipt,
    OutgoingLetter,
    PollResult,
    RoutingChange,
)
from connector.plugins.ports import CorrespondenceSystem, SmsGateway, SmsResult


class FakeSystem(CorrespondenceSystem):
    capabilities = Capabilities(reply_download=True)

    def __init__(self) -> None:
        self.letters: dict[str, OutgoingLetter] = {}
        self.by_reference: dict[str, str] = {}
        self.feed: list[RoutingChange] = []
        self.fail_next: list[ExternalError] = []
        self.commit_before_failing = False
        self.calls: list[str] = []
        self._ids = itertools.count(100)

    def deliver(self, letter: OutgoingLetter) -> DeliveryReceipt:
        self.calls.append("deliver")
        if self.fail_next:
            error = self.fail_next.pop(0)
            if self.commit_before_failing:
                self._store(letter)
            raise error
        return DeliveryReceipt(external_id=self._store(letter), status="pending")

    def _store(self, letter: OutgoingLetter) -> str:
        external_id = str(next(self._ids))
        self.letters[external_id] = letter
        self.by_reference.setdefault(letter.tracking_code, external_id)
        return external_id

    def find(self, tracking_code: str) -> DeliveryReceipt | None:
        self.calls.append("find")
        external_id = self.by_reference.get(tracking_code)
        return DeliveryReceipt(external_id=external_id) if external_id else None

    def changes(self, cursor: str) -> PollResult:
        start = int(cursor or 0)
        return PollResult(changes=self.feed[start:], cursor=str(len(self.feed)))

    def emit(self, tracking_code: str, kind: ChangeKind, **fields: str) -> RoutingChange:
        change = RoutingChange(source_id=f"fake:{len(self.feed)}", kind=kind,
                               at=datetime.now(timezone.utc),
                               external_id=self.by_reference[tracking_code],
                               reference=tracking_code, **fields)
        self.feed.append(change)
        return change

    def ping(self) -> str:
        return "ok"


class RecordingGateway(SmsGateway):
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    @classmethod
    def from_options(cls, options: Mapping[str, object], secrets: Mapping[str, str]
                     ) -> RecordingGateway:
        return cls()

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        self.sent.append((to, text, client_reference))
        return SmsResult(provider_message_id=f"rec-{len(self.sent)}", status="delivered")


class ScriptedGateway(SmsGateway):
    """A provider whose next answers are scripted: "ok", "down" (refused before anything was
    sent), "lost" (took the message, then the answer timed out), "timeout" (timed out before
    taking it), "bad-number", "template-refused". Without a script every call is "ok"."""

    def __init__(self, name: str = "scripted", by_reference: bool = True,
                 status_query: bool = True) -> None:
        from connector.plugins.ports import SmsGatewayCapabilities
        self.name = name
        self.capabilities = SmsGatewayCapabilities(
            supports_client_reference=True, supports_status_query=status_query,
            supports_template=True, supports_status_by_reference=by_reference)
        self.script: list[str] = []
        self.sent: dict[str, tuple[str, str]] = {}  # what reached phones, by our reference
        self.templates: list[tuple[str, str, dict[str, str]]] = []
        self.states: dict[str, SmsResult] = {}  # what status() reports, by provider id
        self.calls = 0
        self._lock = threading.Lock()

    def _next(self) -> str:
        with self._lock:  # the outbox calls from several threads
            self.calls += 1
            return self.script.pop(0) if self.script else "ok"

    def _take(self, to: str, text: str, ref: str) -> SmsResult:
        from connector.domain.errors import AmbiguousError, PermanentError, TransientError
        step = self._next()
        if step == "down":
            raise TransientError("connection refused")
        if step == "timeout":
            raise AmbiguousError("read timed out")
        if step == "bad-number":
            raise PermanentError("invalid receptor")
        if step == "template-refused":
            raise PermanentError("template not approved")
        self.sent.setdefault(ref, (to, text))
        if step == "lost":
            raise AmbiguousError("read timed out")
        return SmsResult(provider_message_id=f"{self.name}-{ref}", status="sending", raw="1")

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        return self._take(to, text, client_reference)

    def send_template(self, to: str, template: str, params: Mapping[str, str],
                      client_reference: str) -> SmsResult:
        result = self._take(to, f"[{template}] {params}", client_reference)
        self.templates.append((to, template, dict(params)))
        return result

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        return {pid: self.states[pid] for pid in provider_ids if pid in self.states}

    def find(self, client_reference: str) -> SmsResult | None:
        if client_reference not in self.sent:
            return None
        return SmsResult(provider_message_id=f"{self.name}-{client_reference}", status="pending",
                         raw="found")
