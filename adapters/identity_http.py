"""A generic HTTP/JSON adapter for the identity ports, configured by a profile: the providers
(licensed intermediaries, a government service bus) each have their own URL, authentication,
request shape and response fields, so those are data, not code.

Profile (TOML, the file named in PISHKHAN_IDENTITY_PROFILE)::

    type = "http"
    url_env = "PISHKHAN_SANDBOX_URL"   # or url = "https://..."
    timeout = 5                        # seconds, connect and read
    [auth]                             # type = "basic" | "bearer" | "header" | "none"
    type = "basic"
    username_env = "PISHKHAN_DEMO_OA_USERNAME"
    password_env = "PISHKHAN_DEMO_OA_PASSWORD"
    [person]
    path = "/registry/v1/persons/lookup"
    body = { nationalCode = "{national_code}", birthDate = "{birth_date}" }
    not_found_status = [404]
    first_name = "data.firstName"      # dotted paths into the JSON answer
    last_name = "data.lastName"
    father_name = "data.fatherName"
    alive = "data.isAlive"
    [mobile]
    path = "/registry/v1/shahkar"
    body = { mobile = "{mobile}", nationalCode = "{national_code}" }
    match = "data.match"

Errors: no connection, a timeout or a 5xx/429 answer are transient (a look-up changes nothing,
so trying again is safe); 401/403 are configuration; any other answer we cannot read is
permanent. Secrets come from the environment variables the profile names.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from connector.domain.errors import ConfigurationError, PermanentError, TransientError
from connector.plugins.ports import IdentityRegistry, MobileOwnership, Person


def _path(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        return template.format_map(values)
    if isinstance(template, Mapping):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


class HttpJsonIdentity(IdentityRegistry, MobileOwnership):
    def __init__(self, url: str, timeout: float, auth: Any, headers: dict[str, str],
                 person: Mapping[str, Any], mobile: Mapping[str, Any]) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers.update({"Accept": "application/json", **headers})
        self.person = person
        self.mobile = mobile

    @classmethod
    def from_options(cls, options: dict[str, Any], secrets: Mapping[str, str]
                     ) -> HttpJsonIdentity:
        def env(key: str, where: str) -> str:
            value = secrets.get(key, "")
            if not value:
                raise ConfigurationError(f"identity {where}: environment variable {key} is empty")
            return value
        url = options.get("url") or (env(options["url_env"], "url_env")
                                     if options.get("url_env") else "")
        if not url:
            raise ConfigurationError("identity profile: give url or url_env")
        auth_opts = options.get("auth", {}) or {}
        kind = auth_opts.get("type", "none")
        auth, headers = None, {}
        if kind == "basic":
            auth = (env(auth_opts["username_env"], "auth.username_env"),
                    env(auth_opts["password_env"], "auth.password_env"))
        elif kind == "bearer":
            headers["Authorization"] = f"Bearer {env(auth_opts['token_env'], 'auth.token_env')}"
        elif kind == "header":
            headers[auth_opts["name"]] = env(auth_opts["value_env"], "auth.value_env")
        elif kind != "none":
            raise ConfigurationError("identity auth.type: use basic, bearer, header or none")
        for table in ("person", "mobile"):
            if not isinstance(options.get(table, {}), Mapping):
                raise ConfigurationError(f"identity profile: [{table}] must be a table")
        return cls(url, float(options.get("timeout", 5)), auth, headers,
                   options.get("person", {}), options.get("mobile", {}))

    def _post(self, table: Mapping[str, Any], values: Mapping[str, str]) -> tuple[int, Any]:
        if not table.get("path"):
            raise ConfigurationError("identity profile: this look-up has no path")
        try:
            resp = self.session.request(table.get("method", "POST"), self.url + table["path"],
                                        json=_fill(table.get("body", {}), values),
                                        timeout=self.timeout)
        except requests.Timeout as exc:
            raise TransientError(f"identity registry timed out: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise TransientError(f"identity registry unreachable: {type(exc).__name__}") from None
        if resp.status_code in (401, 403):
            raise ConfigurationError(f"identity registry refused our credentials "
                                     f"(HTTP {resp.status_code})")
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientError(f"identity registry answered HTTP {resp.status_code}")
        try:
            return resp.status_code, resp.json()
        except ValueError:
            raise PermanentError(f"identity registry answered HTTP {resp.status_code} "
                                 "without JSON") from None

    def lookup(self, national_code: str, birth_date: str | None = None) -> Person | None:
        status, data = self._post(self.person, {"national_code": national_code,
                                                "birth_date": birth_date or ""})
        if status in self.person.get("not_found_status", [404]):
            return None
        first = _path(data, self.person.get("first_name", "first_name"))
        last = _path(data, self.person.get("last_name", "last_name"))
        if status >= 400 or not first or not last:
            raise PermanentError(f"identity registry answer not understood (HTTP {status})")
        alive = _path(data, self.person.get("alive", "alive"))
        return Person(str(first), str(last),
                      str(_path(data, self.person.get("father_name", "father_name")) or ""),
                      alive is not False)

    def owns(self, mobile: str, national_code: str) -> bool:
        status, data = self._post(self.mobile, {"mobile": mobile,
                                                "national_code": national_code})
        match = _path(data, self.mobile.get("match", "match"))
        if status >= 400 or not isinstance(match, bool):
            raise PermanentError(f"mobile ownership answer not understood (HTTP {status})")
        return match
