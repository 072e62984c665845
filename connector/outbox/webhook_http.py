"""Webhooks over HTTP(S): the real :class:`WebhookSink`. Every request has a connect and a read
timeout; the error class says whether the event may have arrived."""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from connector.domain.errors import AmbiguousError, PermanentError, TransientError
from connector.plugins.ports import WebhookSink

# Statuses by which a receiver asks us to come back later rather than refusing the event.
_COME_BACK = {408, 425, 429}


class HttpWebhookSink(WebhookSink):
    def __init__(self, connect_timeout: float = 5.0, read_timeout: float = 10.0,
                 verify: bool | str = True) -> None:
        self.timeout = (connect_timeout, read_timeout)
        self.verify = verify
        self.http = requests.Session()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            answer = self.http.post(url, data=body, headers=dict(headers), timeout=self.timeout,
                                    verify=self.verify, allow_redirects=False)
        except (requests.ConnectTimeout, requests.exceptions.SSLError,
                requests.exceptions.InvalidURL) as exc:
            raise TransientError(f"could not reach {shown(url)}: {type(exc).__name__}") from exc
        except requests.ConnectionError as exc:
            # Refused before anything was sent, or dropped after: only the first is certain.
            if _refused(exc):
                raise TransientError(f"{shown(url)} refused the connection") from exc
            raise AmbiguousError(f"{shown(url)} dropped the connection: {exc}") from exc
        except requests.ReadTimeout as exc:
            raise AmbiguousError(f"{shown(url)} took the event and did not answer in "
                                 f"{self.timeout[1]:g} s") from exc
        except requests.RequestException as exc:
            raise AmbiguousError(f"{shown(url)}: {type(exc).__name__}") from exc
        status = answer.status_code
        if 200 <= status < 300:
            return status
        if status in _COME_BACK or status >= 500:
            raise TransientError(f"{shown(url)} answered HTTP {status}")
        raise PermanentError(f"{shown(url)} refused the event: HTTP {status}")


def _refused(exc: Exception) -> bool:
    # urllib3 names a connection that never opened NewConnectionError; one that opened and
    # then broke is "Connection aborted" / RemoteDisconnected, after the request may have left.
    text = str(exc)
    return "NewConnectionError" in text or "Failed to establish a new connection" in text


def shown(url: str) -> str:
    """The endpoint without credentials or query string (a token often travels there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
