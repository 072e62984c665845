"""The SOAP adapter: the core's CorrespondenceSystem port over zeep, shaped by a profile."""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import zeep
from zeep.wsse.username import UsernameToken

from connector.domain import clock
from connector.domain.errors import (AmbiguousError, ConfigurationError, ExternalError,
                                     PermanentError, TransientError)
from connector.domain.letter import (Capabilities, ChangeKind, DeliveryReceipt, Document,
                                     OutgoingAttachment, OutgoingLetter, PollResult, RoutingChange)
from connector.plugins.ports import CorrespondenceSystem, DeliveryProgress, MemoryProgress
from connector.plugins.secrets import scrub

from ..options import IGNORE, letter_fields, text as _text
from .calls import Caller, now_utc
from .checks import Binding, bind
from .config import adapter_options
from .dates import answer_time, iran_days as _iran_days, to_jalali
from .draft import draft_profile
from .errors import classify
from .options import SoapOptions
from .profile import Profile, load_profile
from .runner import LookFirst, NotFound, file_context, files_present, run, run_resuming
from .templates import as_list, resolve
from .transport import ExchangePlugin, PinnedSession, RecordingTransport

log = logging.getLogger(__name__)


class SoapAdapter(CorrespondenceSystem):
    """One organization's SOAP correspondence system. Safe to share between threads."""

    options_model = SoapOptions  # its [adapter] options, for checks and the JSON Schema

    def __init__(self, wsdl: str, profile: Profile | str = "reference", *,
                 username: str | None = None, password: str | None = None,
                 wsse: str = "text", timeout: float = 10.0, register_on_delivery: bool = False,
                 page_size: int = 200, verify: bool | str = True,
                 client_cert: str | None = None, client_key: str | None = None,
                 endpoint: str | None = None, binding: Binding | None = None,
                 http_auth: str = "none") -> None:
        self.wsdl = wsdl
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        # The organization's parameters and value maps (checked by bind() in from_options).
        self.binding = binding or bind(self.profile, {}, {}, {})
        self.wsse, self.timeout, self.endpoint, self.http_auth = wsse, timeout, endpoint, http_auth
        self.register_on_delivery, self.page_size = register_on_delivery, page_size
        self._username = username
        self._password = password
        self._verify = verify
        self._cert: str | tuple[str, str] | None = (
            (client_cert, client_key) if client_cert and client_key else client_cert)
        ops = self.profile.operations
        self.capabilities = Capabilities(changes_feed="changes" in ops,
                                         reply_download="fetch_reply" in ops,
                                         resumable_delivery=self.profile.multi_step,
                                         add_attachments="add_attachments" in ops)
        self._lock = threading.Lock()
        self._built: tuple[Any, RecordingTransport] | None = None
        session = self.profile.session
        masked = (session.header.rsplit(".", 1)[-1],) if session and session.header else ()
        self._exchange = ExchangePlugin(masked)
        self._caller = Caller(self.profile, self._client_service, self._base_context,
                              self._fixed_secrets, self.binding.lookup)

    # -- building --------------------------------------------------------------------------

    draft = staticmethod(draft_profile)  # a commented profile for any WSDL (adapter draft)

    @classmethod
    def from_options(cls, options: dict[str, Any], secrets: Mapping[str, str]) -> SoapAdapter:
        """Build from an organization's ``[adapter]`` table; every mistake is a
        ConfigurationError naming the key and the fix. Touches no network."""
        return cls(**adapter_options(options, secrets))

    def _client_service(self) -> tuple[Any, RecordingTransport]:
        """The zeep service proxy and its transport, built on first use; a failed build is
        retried on the next call."""
        built = self._built
        if built is not None:
            return built
        with self._lock:
            if self._built is not None:
                return self._built
            session = PinnedSession()
            session.verify = self._verify
            if self.http_auth == "basic":
                session.auth = (self._username or "", self._password or "")
            if self._cert:
                session.cert = self._cert
            transport = RecordingTransport(session=session, timeout=self.timeout,
                                            operation_timeout=self.timeout)
            settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True,
                                     forbid_external=True)
            token = None
            if self.wsse != "none":
                token = UsernameToken(
                    self._username, self._password, use_digest=self.wsse == "digest")
            try:
                client = zeep.Client(self.wsdl, transport=transport, settings=settings,
                                     wsse=token, plugins=[self._exchange])
                service = client.service
                if self.endpoint:
                    # Vendors' WSDLs often advertise an internal host name as the address.
                    service = client.create_service(service._binding.name.text, self.endpoint)
            except Exception as exc:
                session.close()
                raise classify(exc, action=f"loading the WSDL from {self.wsdl}",
                               loading_wsdl=True, secrets=self._secrets()) from exc
            missing = []
            for call in sorted(self.profile.calls()):
                try:
                    service[call]
                except AttributeError:
                    missing.append(call)
            if missing:
                session.close()
                raise ConfigurationError(scrub(
                    f"the WSDL at {self.wsdl} has no operation {', '.join(missing)}, which the "
                    f"{self.profile.name!r} profile uses — check adapter.wsdl and "
                    "adapter.profile", self._secrets()))
            self._built = (service, transport)
            return self._built

    # -- the port --------------------------------------------------------------------------

    def deliver(self, letter: OutgoingLetter) -> DeliveryReceipt:
        if self.profile.multi_step:
            return self.deliver_resuming(letter, MemoryProgress())
        return self._deliver(letter, None)

    def deliver_resuming(self, letter: OutgoingLetter, progress: DeliveryProgress
                         ) -> DeliveryReceipt:
        return self._deliver(letter, progress)

    def _deliver(self, letter: OutgoingLetter, progress: DeliveryProgress | None
                 ) -> DeliveryReceipt:
        fields = letter_fields(letter)
        context = {
            **fields, "submitted_at": fields["submitted_at"] or now_utc(),
            # None rather than False: the argument is then left out, so WSDLs that have no
            # register element still accept the call.
            "register": True if self.register_on_delivery else None,
        }
        out = self._run("deliver", context, progress)
        if out.get("letter_id") is None:
            raise AmbiguousError("deliver: the answer carried no letter id; the letter may "
                                 "exist — look it up before sending it again")
        return self._receipt(out)

    def _receipt(self, out: Mapping[str, Any]) -> DeliveryReceipt:
        return DeliveryReceipt(external_id=str(out["letter_id"]),
                               status=_text(out.get("status")) or "",
                               letter_number=_text(out.get("number")) or None,
                               letter_date=self._time(out.get("number_date")),
                               **{k: _text(out.get(k)) or None for k in ("reason", "unit",
                                                                         "person")})

    def add_attachments(self, external_id: str, tracking_code: str,
                        attachments: tuple[OutgoingAttachment, ...]) -> None:
        """One file at a time, each looked up first: a retry adds nothing twice."""
        if "add_attachments" not in self.profile.operations:
            raise NotImplementedError("this dialect cannot add files to a letter")
        for a in attachments:
            self._run("add_attachments", file_context(external_id, tracking_code, a), LookFirst())

    def attachments_present(self, external_id: str, tracking_code: str,
                            attachments: tuple[OutgoingAttachment, ...]) -> tuple[bool, ...]:
        return files_present(self.profile.operations.get("add_attachments"), [
            {**file_context(external_id, tracking_code, a), **self._base_context()}
            for a in attachments], lambda spec, kw: self._caller.call(spec, kw, False),
            self.binding.lookup)

    def find(self, tracking_code: str) -> DeliveryReceipt | None:
        try:
            out = self._run("find", {"tracking_code": tracking_code})
        except NotFound:
            return None
        if not out.get("found"):
            return None
        if out.get("letter_id") is None:
            raise ConfigurationError("find: the system says found but the profile's outputs "
                                     "give no letter_id — check the profile")
        statuses = self.profile.operations["find"].statuses
        if statuses:
            theirs = _text(out.get("status")) or ""
            ours = statuses.get(theirs.strip())
            if ours is None:
                log.warning("soap %s: status %r is not in [find.statuses]; taken as no news",
                            self.profile.name, theirs)
            out = {**out, "status": "" if ours in (None, IGNORE) else ours}
        return self._receipt(out)

    def _lookup(self, tracking_code: str) -> dict[str, Any] | None:
        """For an "already exists" answer: the letter's outputs as a delivery step has them."""
        if (found := self.find(tracking_code)) is None:
            return None
        return {"letter_id": found.external_id, "number": found.letter_number,
                "number_date": found.letter_date, "status": found.status}

    def changes(self, cursor: str) -> PollResult:
        if self.profile.cursor == "date":
            return self._changes_by_date(cursor)
        cursor = cursor.strip() or "0"
        out = self._run("changes", {"cursor": cursor, "page_size": self.page_size})
        return self._poll_result(out, cursor)

    def _changes_by_date(self, cursor: str) -> PollResult:
        """Systems that can only be asked "what happened between these days": read from a day
        before the last one read (changes committed late still show up), and every few polls
        a wider window; the core drops what it has seen by source id. The cursor is
        ``<last day read>/<polls since the last wide sweep>``."""
        day_text, _, count_text = cursor.strip().partition("/")
        now = clock.now()
        polls = int(count_text) + 1 if count_text.isdigit() else 0
        sweep = not day_text or (self.profile.sweep_every and polls >= self.profile.sweep_every)
        try:
            last = date.fromisoformat(day_text) if day_text else now.date()
        except ValueError:
            last, sweep = now.date(), True
        back = self.profile.sweep_days if sweep else self.profile.overlap_days
        since = datetime.combine(last, datetime.min.time()) - timedelta(days=back)
        next_cursor = f"{now.date().isoformat()}/{0 if sweep else polls}"
        out = self._run("changes", {"cursor": cursor, "page_size": self.page_size,
                                    "since": since, "until": now})
        if len(as_list(out.get("changes"))) < self.page_size:
            return self._poll_result({**out, "next_cursor": next_cursor}, cursor)
        # A full page may hide more: such systems can't page within a window, so read it
        # again one day at a time. A day that still fills a page is reported, with the fix.
        items: list[Any] = []
        for start, until in _iran_days(since, now):
            page = as_list(self._run("changes", {"cursor": cursor, "page_size": self.page_size,
                                                 "since": start, "until": until}).get("changes"))
            if len(page) >= self.page_size:
                log.error("%s: %s holds more changes than one page of %s; some may be missed "
                          "— raise the adapter's page_size", self.wsdl, to_jalali(start),
                          self.page_size)
            items.extend(page)
        return self._poll_result({"changes": items, "next_cursor": next_cursor}, cursor)

    def _poll_result(self, out: dict[str, Any], cursor: str) -> PollResult:
        items = as_list(out.get("changes"))
        found: dict[str, tuple[Any, RoutingChange]] = {}
        for item in items:
            entry = self._change(item)
            if entry is not None:
                # Some systems repeat a change within a page; one is enough.
                found.setdefault(entry[1].source_id, entry)
        ordered = list(found.values())
        # Apply in the system's order even if it sent the page shuffled, so a letter is not
        # "answered" before it is "registered".
        if all(isinstance(change_id, int) for change_id, _ in ordered):
            ordered.sort(key=lambda entry: entry[0])
        next_cursor = out.get("next_cursor")
        if next_cursor is None and self.profile.cursor == "id":
            # No cursor in the answer: the highest change id read is where the next poll starts.
            ids = [str(resolve(i, self.profile.change_item["change_id"])) for i in items]
            next_cursor = max([int(x) for x in ids + [cursor] if x.isdigit()], default=None)
        return PollResult(changes=[c for _, c in ordered],
                          cursor=str(next_cursor) if next_cursor is not None else cursor)

    def _change(self, item: Any) -> tuple[Any, RoutingChange] | None:
        """The system's change id and our RoutingChange, or None for a change we skip."""
        paths = self.profile.change_item

        def get(name: str) -> Any:
            return resolve(item, paths[name]) if name in paths else None

        system_kind = _text(get("kind")) or ""
        kind = self.profile.kind(system_kind)
        change_id = get("change_id")
        if kind == IGNORE:
            return None
        if kind is None:
            log.warning("soap %s: change %s has kind %r, which the profile does not map; "
                        "dropped", self.profile.name, change_id, system_kind)
            return None
        assert isinstance(kind, ChangeKind)
        at = self._time(get("at")) or clock.now()
        letter_id = get("letter_id")
        return change_id, RoutingChange(
            source_id=f"{self.profile.name}:{change_id}", kind=kind, at=at,
            external_id="" if letter_id is None else str(letter_id),
            reference=_text(get("reference")) or "", number=_text(get("number")),
            reason=_text(get("reason")), unit=_text(get("unit")), person=_text(get("person")),
            instruction=_text(get("instruction")), text=_text(get("text")))

    def fetch_reply(self, external_id: str) -> Document | None:
        if "fetch_reply" not in self.profile.operations:
            return None
        try:
            out = self._run("fetch_reply", {"external_id": external_id})
        except NotFound:
            return None
        if not out.get("found"):
            return None
        text = _text(out.get("text")) or ""
        content = out.get("content")
        if content:
            return Document(file_name=_text(out.get("file_name")) or f"reply-{external_id}",
                            content_type=_text(out.get("content_type"))
                            or "application/octet-stream",
                            content=bytes(content), text=text)
        return Document(file_name=f"reply-{external_id}.txt",
                        content_type="text/plain; charset=utf-8", content=text.encode(),
                        text=text)

    def ping(self) -> str:
        out = self._run("ping", {})
        if "ok" in out and not out["ok"]:
            raise TransientError("ping: the system answered but says it is not ok")
        when = out.get("server_time")
        stamp = when.isoformat() if isinstance(when, (datetime, date)) else _text(when)
        where = urlsplit(self.endpoint or self.wsdl).netloc.rsplit("@", 1)[-1]
        return f"ok: server time {stamp or 'unknown'} ({self.profile.name} profile at {where})"

    def structure(self) -> str:
        self._client_service()  # loads the WSDL and checks every operation the profile uses
        where = urlsplit(self.wsdl).netloc.rsplit("@", 1)[-1]
        return (f"the WSDL at {where} has all {len(self.profile.calls())} operations the "
                f"{self.profile.name!r} profile uses")

    def close(self) -> None:
        if self._caller.session is not None and self._built is not None:
            self._caller.session.close()
        with self._lock:
            if self._built is not None:
                self._built[1].session.close()
            self._built = None

    # -- diagnostics -----------------------------------------------------------------------

    def last_exchange(self) -> tuple[str, str]:
        """The last request and response envelopes (response '' if none arrived), with
        passwords masked."""
        return self._exchange.last(self._secrets())

    # -- plumbing --------------------------------------------------------------------------

    def _fixed_secrets(self) -> list[str]:
        return [s for s in (self._password, *self.binding.secrets) if s]

    def _secrets(self) -> list[str]:
        """Everything to mask: the password, secret parameters, every session ticket."""
        return self._caller.secrets()

    def _time(self, value: Any) -> datetime | None:
        return answer_time(value, jalali=self.profile.date_format == "jalali")

    def _base_context(self) -> dict[str, Any]:
        """What every operation's templates (and the login) may use besides its own fields."""
        return {"username": self._username, "password": self._password,
                "params": dict(self.binding.params), "now": now_utc()}

    def _run(self, operation: str, context: dict[str, Any],
             progress: DeliveryProgress | None = None) -> dict[str, Any]:
        effectful = operation in ("deliver", "add_attachments")
        done = 0

        def call(spec: Any, kwargs: dict[str, Any]) -> Any:
            nonlocal done
            answer = self._caller.call(spec, kwargs, effectful)
            done += 1
            return answer

        context = {**context, **self._base_context()}
        op = self.profile.operations[operation]
        lookup = (lambda: self._lookup(context["tracking_code"])) if effectful else None
        try:
            if progress is not None:
                return run_resuming(op, context, call, progress, self.binding.lookup, lookup)
            return run(op, context, call, self.binding.lookup, lookup, strict_ids=effectful)
        except NotFound as signal:
            if operation in ("find", "fetch_reply"):
                raise
            if operation == "changes":  # "no records" for a quiet window
                return {**context, "changes": []}
            raise PermanentError(f"{signal}: the system says there is no such thing — check "
                                 "the profile's codes for this step") from None
        except ExternalError as err:
            # Stored progress makes the finished steps safe to skip on the next attempt.
            resumable = isinstance(progress, DeliveryProgress) and \
                not isinstance(progress, MemoryProgress)
            if effectful and done and not resumable and not isinstance(err, AmbiguousError):
                # An earlier step (e.g. inserting the letter) already took effect.
                raise AmbiguousError(f"{err.detail}; an earlier step of the delivery succeeded, "
                                     "so the letter may exist — look it up before sending it "
                                     "again") from err
            raise
        except Exception as exc:  # a template that cannot be rendered (e.g. |int of a word)
            raise classify(exc, action=operation, secrets=self._secrets()) from exc

