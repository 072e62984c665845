"""The SOAP adapter: the core's CorrespondenceSystem port over zeep, shaped by a profile."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from copy import deepcopy
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import requests
import zeep
import zeep.plugins
from lxml import etree
from zeep.wsse.username import UsernameToken

from connector.domain import clock
from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.domain.letter import (
    Capabilities,
    ChangeKind,
    DeliveryReceipt,
    Document,
    OutgoingLetter,
    PollResult,
    RoutingChange,
)
from connector.plugins.ports import CorrespondenceSystem, DeliveryProgress, MemoryProgress
from connector.plugins.secrets import scrub

from connector.plugins.explain import check_options

from ..options import IGNORE, letter_fields, secret
from ..options import naive_utc as _naive_utc
from ..options import text as _text
from .dates import parse_jalali, to_jalali
from .errors import classify
from .options import SoapOptions
from .profile import Profile, load_profile, resolve, run, run_resuming

log = logging.getLogger(__name__)

WSSE_MODES = ("text", "digest", "none")


class SoapAdapter(CorrespondenceSystem):
    """One organization's SOAP correspondence system. Safe to share between threads."""

    options_model = SoapOptions  # its [adapter] options, for checks and the JSON Schema

    def __init__(self, wsdl: str, profile: Profile | str = "reference", *,
                 username: str | None = None, password: str | None = None,
                 wsse: str = "text", timeout: float = 10.0, register_on_delivery: bool = False,
                 page_size: int = 200, verify: bool | str = True,
                 client_cert: str | None = None, client_key: str | None = None,
                 endpoint: str | None = None) -> None:
        self.wsdl = wsdl
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self.wsse = wsse
        self.timeout = timeout
        self.register_on_delivery = register_on_delivery
        self.page_size = page_size
        self.endpoint = endpoint
        self._username = username
        self._password = password
        self._verify = verify
        self._cert: str | tuple[str, str] | None = (
            (client_cert, client_key) if client_cert and client_key else client_cert)
        ops = self.profile.operations
        self.capabilities = Capabilities(changes_feed="changes" in ops,
                                         reply_download="fetch_reply" in ops,
                                         resumable_delivery=self.profile.multi_step)
        self._lock = threading.Lock()
        self._built: tuple[Any, _RecordingTransport] | None = None
        self._exchange = _ExchangePlugin()

    # -- building --------------------------------------------------------------------------

    @classmethod
    def from_options(cls, options: dict[str, Any], secrets: Mapping[str, str]) -> SoapAdapter:
        """Build from an organization's ``[adapter]`` table; every mistake is a
        ConfigurationError naming the key and the fix. Touches no network."""
        o = check_options(SoapOptions, options, "adapter")
        username = _secret(options, secrets, "username_env", required=o.wsse != "none")
        password = _secret(options, secrets, "password_env", required=o.wsse != "none")
        return cls(o.wsdl, o.profile, username=username, password=password, wsse=o.wsse,
                   timeout=o.timeout, register_on_delivery=o.register_on_delivery,
                   page_size=o.page_size, verify=o.verify, client_cert=o.client_cert,
                   client_key=o.client_key, endpoint=o.endpoint)

    def _client_service(self) -> tuple[Any, _RecordingTransport]:
        """The zeep service proxy and its transport, built on first use; a failed build is
        retried on the next call."""
        built = self._built
        if built is not None:
            return built
        with self._lock:
            if self._built is not None:
                return self._built
            session = requests.Session()
            session.verify = self._verify
            if self._cert:
                session.cert = self._cert
            transport = _RecordingTransport(session=session, timeout=self.timeout,
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
        context = {
            **letter_fields(letter),
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
                               letter_date=self._time(out.get("number_date")))

    def find(self, tracking_code: str) -> DeliveryReceipt | None:
        out = self._run("find", {"tracking_code": tracking_code})
        if not out.get("found"):
            return None
        if out.get("letter_id") is None:
            raise ConfigurationError("find: the system says found but the profile's outputs "
                                     "give no letter_id — check the profile")
        return self._receipt(out)

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
        if len(_items(out)) < self.page_size:
            return self._poll_result({**out, "next_cursor": next_cursor}, cursor)
        # A full page may hide more: such systems can't page within a window, so read it
        # again one day at a time. A day that still fills a page is reported, with the fix.
        items: list[Any] = []
        for start, until in _iran_days(since, now):
            page = _items(self._run("changes", {"cursor": cursor, "page_size": self.page_size,
                                                "since": start, "until": until}))
            if len(page) >= self.page_size:
                log.error("%s: %s holds more changes than one page of %s; some may be missed "
                          "— raise the adapter's page_size", self.wsdl, to_jalali(start),
                          self.page_size)
            items.extend(page)
        return self._poll_result({"changes": items, "next_cursor": next_cursor}, cursor)

    def _poll_result(self, out: dict[str, Any], cursor: str) -> PollResult:
        items = _items(out)
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
        out = self._run("fetch_reply", {"external_id": external_id})
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

    def _secrets(self) -> list[str]:
        return [s for s in (self._password,) if s]

    def _time(self, value: Any) -> datetime | None:
        """A time from an answer as naive UTC: zeep's datetimes, ISO strings, or Jalali strings
        where the profile says the system writes them."""
        if isinstance(value, str) and value.strip():
            if self.profile.date_format == "jalali":
                return parse_jalali(value)
            try:
                value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return None
        return _naive_utc(value)

    def _check_status(self, name: str, answer: Any) -> Any:
        """Raise the profile's error class for a status code inside the answer."""
        status = self.profile.status
        if status is None:
            return answer
        kind, code, message = status.classify(answer)
        if kind in ("ok", "ignore"):
            return answer
        error = {"transient": TransientError, "permanent": PermanentError,
                 "configuration": ConfigurationError, "ambiguous": AmbiguousError}[kind]
        raise error(scrub(f"{name}: the system answered code {code}"
                          + (f" ({message})" if message else ""), self._secrets()))

    def _run(self, operation: str, context: dict[str, Any],
             progress: DeliveryProgress | None = None) -> dict[str, Any]:
        effectful = operation == "deliver"
        service, transport = self._client_service()
        done = 0

        def call(name: str, kwargs: dict[str, Any]) -> Any:
            nonlocal done
            transport.begin()
            try:
                answer = service[name](**kwargs)
            except Exception as exc:
                raise classify(exc, action=name, effectful=effectful,
                               posted=transport.posted, http_status=transport.status,
                               secrets=self._secrets()) from exc
            answer = self._check_status(name, answer)
            done += 1
            return answer

        # Credentials are in the context for dialects that want them in the body.
        context = {**context, "username": self._username, "password": self._password}
        try:
            if progress is not None:
                return run_resuming(self.profile.operations[operation], context, call, progress)
            return run(self.profile.operations[operation], context, call)
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


class _RecordingTransport(zeep.Transport):
    """zeep's transport, noting per thread whether the request went out and what status came
    back — the classifier needs both and zeep's exceptions do not always carry them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._local = threading.local()

    def begin(self) -> None:
        self._local.posted = False
        self._local.status = None

    @property
    def posted(self) -> bool:
        return getattr(self._local, "posted", False)

    @property
    def status(self) -> int | None:
        return getattr(self._local, "status", None)

    def post(self, address: str, message: Any, headers: Any) -> requests.Response:
        self._local.posted = True
        response = super().post(address, message, headers)
        self._local.status = response.status_code
        return response


class _ExchangePlugin(zeep.plugins.Plugin):
    """Keeps the last request/response pair. Like zeep's HistoryPlugin(maxlen=1), but pairs a
    response with its own thread's request, since delivery threads share the adapter."""

    _MASK = "***"

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._last: tuple[Any, Any] = (None, None)

    def egress(self, envelope: Any, http_headers: Any, operation: Any,
               binding_options: Any) -> tuple[Any, Any]:
        # The WS-Security header is added to this same element after the plugins run, and
        # the masking happens on read, so the stored element is not serialized here.
        self._local.sent = envelope
        with self._lock:
            self._last = (envelope, None)
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> tuple[Any, Any]:
        with self._lock:
            self._last = (getattr(self._local, "sent", None), envelope)
        return envelope, http_headers

    def last(self, secrets: list[str]) -> tuple[str, str]:
        with self._lock:
            sent, received = self._last
        return self._show(sent, secrets), self._show(received, secrets)

    def _show(self, envelope: Any, secrets: list[str]) -> str:
        if envelope is None:
            return ""
        copy = deepcopy(envelope)
        for el in copy.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == "Password":
                el.text = self._MASK
        text = etree.tostring(copy, pretty_print=True, encoding="unicode")
        for value in secrets:
            text = text.replace(value, self._MASK)
        return text


def _secret(options: Mapping[str, Any], secrets: Mapping[str, str], key: str,
            required: bool) -> str | None:
    example = "OA_USERNAME" if key == "username_env" else "OA_PASSWORD"
    return secret(options, secrets, key, missing=None if not required else (
        f'adapter.{key} is missing — add {key} = "{example}" and set {example} in the '
        'environment (or write wsse = "none" if the service needs no credentials)'))


def _items(out: dict[str, Any]) -> list[Any]:
    """The changes of one answer as a list (zeep gives one item bare, none as None)."""
    items = out.get("changes")
    if items is None:
        return []
    return list(items) if isinstance(items, (list, tuple)) else [items]


def _iran_days(since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Iran's calendar days from ``since`` to ``until`` (naive UTC), each as its first and last
    second in naive UTC — the days such systems' Jalali date filters mean."""
    tz = clock.TEHRAN
    day = since.replace(tzinfo=timezone.utc).astimezone(tz).date()
    last = until.replace(tzinfo=timezone.utc).astimezone(tz).date()
    while day <= last:
        start = datetime.combine(day, time.min, tz).astimezone(timezone.utc).replace(tzinfo=None)
        yield start, min(until, start + timedelta(days=1, seconds=-1))
        day += timedelta(days=1)
