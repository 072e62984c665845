"""zeep plumbing of the SOAP adapter: a transport that notes whether a request went out (and
adds the session cookie), and the plugin that keeps the last exchange for ``--exchange``."""
from __future__ import annotations

import logging
import os
import threading
from copy import deepcopy
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import zeep
import zeep.plugins
from lxml import etree

# zeep logs every request and answer in full at DEBUG — passwords and session tickets with them.
# What an admin needs of the exchange is `adapter check --exchange`, masked.
logging.getLogger("zeep.transports").setLevel(logging.INFO)


# Connections kept open to the system: as many as an organization may deliver at once
# (delivery_concurrency is at most 64). requests keeps 10, and every call past them paid a new
# connection (a TLS handshake, with a real system) only to close it afterwards.
KEEP_ALIVE = 64


class PinnedSession(requests.Session):
    """A requests session whose own ``verify`` wins over REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE:
    requests lets those variables (set system-wide on many servers) override a session's CA
    bundle, so the CA an admin configured in adapter.verify would be silently ignored. It
    keeps up to :data:`KEEP_ALIVE` connections open for the delivery threads that share it.

    The environment (proxies, a CA bundle) is read once per host, not on every request:
    requests otherwise walks the whole environment and looks for a .netrc file per call
    (175 against 71 µs a request here), CPU the delivery threads take turns for."""

    def __init__(self) -> None:
        super().__init__()
        for scheme in ("http://", "https://"):
            self.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=KEEP_ALIVE))
        self.trust_env = False
        self._environment: dict[tuple[str, str], tuple[dict[str, str], str | None]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        host = tuple(urlsplit(url)[:2])
        known = self._environment.get(host)
        if known is None:
            known = self._environment[host] = (
                requests.utils.get_environ_proxies(url),
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"))
        env_proxies, env_bundle = known
        proxies = {**env_proxies, **(proxies or {})}
        if verify in (True, None) and self.verify is True and env_bundle:
            verify = env_bundle  # only where no CA of the admin's own is configured
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


class RecordingTransport(zeep.Transport):
    """zeep's transport, noting per thread whether the request went out and what status came
    back — the classifier needs both and zeep's exceptions do not always carry them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._local = threading.local()

    def begin(self, headers: dict[str, str] | None = None) -> None:
        """Start one call on this thread; ``headers`` go with its request (a session cookie)."""
        self._local.posted = False
        self._local.status = None
        self._local.headers = headers or {}

    @property
    def posted(self) -> bool:
        return getattr(self._local, "posted", False)

    @property
    def status(self) -> int | None:
        return getattr(self._local, "status", None)

    def post(self, address: str, message: Any, headers: Any) -> requests.Response:
        self._local.posted = True
        extra = getattr(self._local, "headers", None)
        if extra:
            headers = {**headers, **extra}
        response = super().post(address, message, headers)
        self._local.status = response.status_code
        return response


class ExchangePlugin(zeep.plugins.Plugin):
    """Keeps the last request/response pair. Like zeep's HistoryPlugin(maxlen=1), but pairs a
    response with its own thread's request, since delivery threads share the adapter."""

    _MASK = "***"

    def __init__(self, masked_elements: tuple[str, ...] = ()) -> None:
        # Elements whose text is a secret wherever they appear (the session header's ticket).
        self.masked_elements = frozenset(("Password",) + masked_elements)
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
            if isinstance(el.tag, str) and etree.QName(el).localname in \
                    self.masked_elements:
                el.text = self._MASK
        text = etree.tostring(copy, pretty_print=True, encoding="unicode")
        for value in secrets:
            text = text.replace(value, self._MASK)
        return text
