"""The HTTP client every gateway shares: explicit timeouts, transport failures classified, and
secrets masked wherever a message could reach a log or an admin.

Calls go through urllib3 directly rather than a ``requests`` session: requests prepares each
call through several layers (cookies, hooks, settings merged from the session, a URL parsed
twice) that these JSON and form APIs do not use, and a sender thread paid about twice the CPU
of the call itself for them; at 32 messages in flight one interpreter runs out before the
provider does (bench/sms.py). The same things are kept: connections reused per provider,
proxies read once from the environment, certificates checked against certifi's bundle (or the
one REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE names), bodies
encoded as requests encoded them. A ``requests`` session is still made, on first use, for the
gateways whose SOAP client (zeep) needs one."""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import requests
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
)

from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    TransientError,
)
from connector.plugins.secrets import scrub
from connector.plugins.unsent import PROXY_LOGIN, handshake_failure, proxy_failure


class _MaskSecrets(logging.Filter):
    """urllib3 logs request lines at DEBUG; Kavenegar's key is part of the path."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self.secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = scrub(record.getMessage(), self.secrets)
            record.args = ()
        return True


_mask_filter = _MaskSecrets()
logging.getLogger("urllib3.connectionpool").addFilter(_mask_filter)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON, or the text when the provider answers in plain text


KEEP_ALIVE = 64  # connections kept per provider
_HEADERS = {"User-Agent": "pishkhan", "Accept-Encoding": "gzip, deflate"}


def _pool(base_url: str) -> urllib3.PoolManager:
    """Connections for one provider: through the proxy the environment names for its
    address (HTTPS_PROXY, NO_PROXY...), read once, as requests reads them: a value without a
    scheme is taken as http://, and a user and password in it are sent to the proxy."""
    # Keep a connection for every sender thread (PISHKHAN_SMS_CONCURRENCY is at most 64):
    # each call past the kept ones would pay a new connection (a TLS handshake) only to throw
    # it away afterwards.
    options: dict[str, Any] = {"maxsize": KEEP_ALIVE, **_ca_options(_ca_bundle())}
    proxies = requests.utils.get_environ_proxies(base_url)
    proxy = proxies.get(base_url.split(":", 1)[0].lower()) or proxies.get("all")
    if not proxy:
        return urllib3.PoolManager(**options)
    proxy = requests.utils.prepend_scheme_if_needed(proxy, "http")
    try:
        if proxy.lower().startswith("socks"):
            from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks, as requests
            return SOCKSProxyManager(proxy, **options)
        # Without this header a proxy that wants a password answers 407, which would look
        # like a connection broken after the request left: every send ambiguous.
        return urllib3.ProxyManager(proxy, proxy_headers=_proxy_login(proxy), **options)
    except (ImportError, ValueError, HTTPError) as exc:
        raise ConfigurationError(f"the proxy for {urlsplit(base_url).hostname} "
                                 f"({_without_login(proxy)}) cannot be used: {exc}") from None


def _ca_bundle() -> str:
    """The CA certificates requests would use: an office behind a TLS-inspecting proxy names its
    own in REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE), a file or a folder; else certifi's. Read once
    per gateway, as the proxies are; one that is not there is a setting to fix, not a reason
    for every send to fail in doubt."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:
        return certifi.where()
    if not os.path.exists(bundle):
        raise ConfigurationError(f"the CA certificates that REQUESTS_CA_BUNDLE or "
                                 f"CURL_CA_BUNDLE names ({bundle}) are not there")
    return bundle


def _ca_options(bundle: str) -> dict[str, str]:
    return {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}


def _proxy_login(proxy: str) -> dict[str, str]:
    user, password = requests.utils.get_auth_from_url(proxy)
    return urllib3.make_headers(proxy_basic_auth=f"{user}:{password}") if user else {}


def _without_login(proxy: str) -> str:
    parts = urlsplit(proxy)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.hostname else "?"


def _form(fields: Mapping[str, Any]) -> str:
    """A form or query string as requests wrote it: None left out, lists repeated."""
    return urlencode([(k, v) for k, v in fields.items() if v is not None], doseq=True)


class HttpClient:
    """One provider's HTTP client. ``write=True`` marks calls that send an SMS: a failure after
    the request went out is then *ambiguous*; for lookups it is only *transient*."""

    def __init__(self, provider: str, base_url: str, timeouts: tuple[float, float],
                 secrets: Iterable[str] = (), headers: Mapping[str, str] | None = None,
                 auth: tuple[str, str] | None = None) -> None:
        self.provider = provider
        self.base_url = base_url
        self.timeouts = timeouts
        self.secrets = [s for s in secrets if s]
        _mask_filter.add(self.secrets)
        self.headers = {**_HEADERS, "Accept": "application/json", **(headers or {})}
        self.auth = auth
        if auth:
            self.headers.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        self._pool = _pool(base_url)
        self._timeout = urllib3.Timeout(connect=timeouts[0], read=timeouts[1])

    @cached_property
    def session(self) -> requests.Session:
        """A requests session with the same settings, for a SOAP client (zeep) to call with."""
        session = requests.Session()
        for scheme in ("http://", "https://"):
            session.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=KEEP_ALIVE))
        session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        session.trust_env = False  # the environment is read once, above, not on every call
        session.verify = _ca_bundle()
        session.headers.update({"Accept": "application/json"})
        if self.auth:
            session.auth = self.auth
        return session

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    def error(self, cls: type[ExternalError], text: str) -> ExternalError:
        return cls(self.scrub(f"{self.provider}: {text}"))

    def transport_error(self, exc: Exception, write: bool) -> ExternalError:
        """A request that got no HTTP answer (urllib3's error, or requests' around one):
        transient if nothing can have reached the provider, else ambiguous (for a send) — the
        message may be on its way."""
        uncertain = AmbiguousError if write else TransientError
        cause = exc
        if isinstance(exc, requests.RequestException) and exc.args:
            cause = getattr(exc.args[0], "reason", None) or exc
        unsent = self._before_the_provider(cause)
        if unsent is not None:
            return unsent
        if isinstance(cause, ProxyError) and cause.original_error is not None:
            # urllib3 says "proxy" also for a connection closed after the request went through
            # the proxy (it forgets the proxy when the connection closes): what broke decides.
            cause = exc = cause.original_error  # type: ignore[assignment]
        if isinstance(cause, NewConnectionError):  # refused, unreachable, unknown host
            return self.error(TransientError, f"cannot connect ({_short(exc)})")
        if isinstance(cause, ConnectTimeoutError) or isinstance(exc, requests.ConnectTimeout):
            return self.error(TransientError, f"could not connect in time ({_short(exc)})")
        if isinstance(cause, ReadTimeoutError) or isinstance(exc, requests.ReadTimeout):
            return self.error(uncertain, f"no answer within {self.timeouts[1]:g} s after the "
                                         "request was sent")
        if isinstance(exc, requests.ConnectionError) or isinstance(cause, ProtocolError):
            return self.error(uncertain, f"connection broke ({_short(exc)})")
        # Anything else (a body cut off mid-answer, a bad chunk) happened after the provider
        # had the request: for a send, the message may be on its way.
        return self.error(uncertain, _short(exc))

    def _before_the_provider(self, cause: BaseException) -> ExternalError | None:
        """The error for a failure that came before the request reached the provider — at the
        proxy, or in the TLS handshake (:mod:`connector.plugins.unsent`) — so the next gateway
        may send the message; else None."""
        at_proxy = proxy_failure(cause, "the provider")
        if at_proxy is not None:
            return self.error(*at_proxy)
        reason = handshake_failure(cause)
        if reason is not None:
            return self.error(ConfigurationError, f"the TLS handshake failed ({reason}); "
                              "nothing was sent. Check the gateway's url, or the provider's "
                              "certificate against this server's CA bundle")
        return None

    def status_error(self, status: int, body: str, write: bool) -> ExternalError | None:
        """The error an HTTP status means by itself, whatever the body says; None if the body
        must decide."""
        said = " ".join(body.split())[:200]
        if status in (429, 502, 503):
            return self.error(TransientError, f"HTTP {status} (busy or limited): {said}")
        if status >= 500:
            # The provider failed while handling it: it may have been sent.
            return self.error(AmbiguousError if write else TransientError,
                              f"HTTP {status}: {said}")
        if status == 407:  # only a proxy answers so: the provider never saw the request
            return self.error(ConfigurationError, f"HTTP 407: the proxy refused to pass us on; "
                                                  f"{PROXY_LOGIN}")
        if status == 303:  # "See Other": the request was handled, its answer is elsewhere
            return self.error(AmbiguousError if write else TransientError,
                              f"HTTP 303: the answer is at another address: {said}")
        if 300 <= status < 400:
            # Not followed: a send must not be repeated at another address on its own. A
            # redirect is not an answer to the request, so nothing was sent.
            return self.error(ConfigurationError, f"HTTP {status}: the provider points to "
                                                  "another address; correct the gateway's url")
        return None

    def _request(self, method: str, url: str, params: Mapping[str, Any] | None = None,
                 data: Mapping[str, Any] | str | bytes | None = None, json_data: Any = None,
                 headers: Mapping[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{_form(params)}"
        sent = {**self.headers, **(headers or {})}
        body: str | bytes | None = None
        if json_data is not None:
            body = json.dumps(json_data, allow_nan=False)
            sent["Content-Type"] = "application/json"
        elif isinstance(data, Mapping):
            body = _form(data)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif data is not None:
            body = data
        return self._pool.request(method, url, body=body.encode() if isinstance(body, str)
                                  else body, headers=sent, timeout=self._timeout,
                                  retries=False, redirect=False)

    def call(self, method: str, path: str, *, write: bool, json_body: bool = True,
             params: Mapping[str, Any] | None = None,
             data: Mapping[str, Any] | str | bytes | None = None, json: Any = None,
             headers: Mapping[str, str] | None = None) -> Reply:
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        uncertain = AmbiguousError if write else TransientError
        try:
            response = self._request(method, url, params, data, json, headers)
        except (HTTPError, OSError) as exc:
            raise self.transport_error(exc, write) from None
        raw = response.data
        text, declared = _text(raw, response)
        failed = self.status_error(response.status, text, write)
        if failed is not None:
            raise failed
        if not json_body:
            return Reply(response.status, text)
        try:
            return Reply(response.status, _json(raw, text if declared else None))
        except ValueError:
            if response.status in (401, 403):
                raise self.error(ConfigurationError, f"HTTP {response.status}: the key "
                                                     "was refused") from None
            raise self.error(uncertain, f"HTTP {response.status} with a body that is "
                                        "not JSON") from None


def _text(raw: bytes, response: urllib3.BaseHTTPResponse) -> tuple[str, bool]:
    """The body as text, in the charset its Content-Type names, else UTF-8 (what these
    providers write); and whether a charset was named (and known)."""
    for part in response.headers.get("Content-Type", "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                return raw.decode(value.strip('"'), "replace"), True
            except LookupError:  # a charset Python does not know
                break
    return raw.decode("utf-8", "replace"), False


def _json(raw: bytes, declared: str | None) -> Any:
    """The body's JSON: read in the charset the answer declared (``declared``, the text);
    else json.loads finds UTF-8, -16 or -32 by itself, and a stray byte that is none of
    them is replaced rather than taken for a body that is not JSON, as requests did."""
    if declared is not None:
        return json.loads(declared.lstrip("\ufeff"))
    try:
        return json.loads(raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw)
    except UnicodeDecodeError:
        return json.loads(raw.decode("utf-8", "replace").lstrip("\ufeff"))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
