"""The contracts the core depends on. Adapters (``pishkhan.adapters`` entry points) implement
``CorrespondenceSystem``; SMS gateways (``pishkhan.sms_gateways``) implement ``SmsGateway``.
Each raises the error classes of :mod:`connector.errors`."""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .domain import Capabilities, DeliveryReceipt, Document, OutgoingLetter, PollResult


class CorrespondenceSystem(abc.ABC):
    """One organization's office-automation system."""

    capabilities: Capabilities = Capabilities()

    @abc.abstractmethod
    def deliver(self, letter: OutgoingLetter) -> DeliveryReceipt:
        """Put the letter in the system as a pending incoming letter."""

    @abc.abstractmethod
    def find(self, tracking_code: str) -> DeliveryReceipt | None:
        """Look a letter up by our tracking code (to reconcile after an ambiguous failure)."""

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


@dataclass(frozen=True)
class SmsResult:
    provider_message_id: str
    status: str = "pending"  # the outbox state the message is in after this call
    raw: str = ""


@dataclass(frozen=True)
class SmsGatewayCapabilities:
    supports_client_reference: bool = False
    supports_status_query: bool = False
    supports_template: bool = False


class SmsGateway(abc.ABC):
    name: str = ""
    capabilities: SmsGatewayCapabilities = SmsGatewayCapabilities()

    @abc.abstractmethod
    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        """Send one message; ``to`` is 09xxxxxxxxx. Raise the error classes on failure."""

    def send_template(
        self, to: str, template: str, params: Mapping[str, str], client_reference: str
    ) -> SmsResult:
        raise NotImplementedError

    def status(self, provider_ids: list[str]) -> dict[str, str]:
        """Outbox states by provider message id, for those the provider knows."""
        return {}


class TextCatalog(abc.ABC):
    """Turns an event kind and its variables into the SMS text an organization sends."""

    @abc.abstractmethod
    def render(self, kind: str, variables: Mapping[str, Any],
               overrides: Mapping[str, str] | None = None) -> str: ...

    @abc.abstractmethod
    def segments(self, text: str) -> int: ...
