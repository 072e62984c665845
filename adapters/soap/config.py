"""The SOAP adapter's options (an organization's ``[adapter]`` table), checked one by one so
every mistake is a ConfigurationError naming the key and the fix. Touches no network."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from connector.domain.errors import ConfigurationError

from ..options import check_known, secret
from .checks import bind, names_used
from .profile import load_profile

WSSE_MODES = ("text", "digest", "none")
OPTIONS = ("wsdl", "profile", "username_env", "password_env", "wsse", "timeout",
           "register_on_delivery", "page_size", "verify", "client_cert", "client_key",
           "endpoint", "params", "maps", "http_auth")
HTTP_AUTH = ("none", "basic")


def adapter_options(options: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """SoapAdapter's keyword arguments from an ``[adapter]`` table."""
    check_known(options, OPTIONS, "soap")
    wsdl = options.get("wsdl")
    if wsdl is None or wsdl == "":
        raise ConfigurationError('adapter.wsdl is missing — add wsdl = "https://…?wsdl"')
    _check_url("wsdl", wsdl, 'wsdl = "https://oa.example.ir/Service.svc?wsdl"')
    endpoint = options.get("endpoint")
    if endpoint is not None:
        _check_url("endpoint", endpoint, 'endpoint = "https://oa.example.ir/Service.svc"')
    profile = options.get("profile", "reference")
    if not isinstance(profile, str) or not profile:
        raise ConfigurationError('adapter.profile must be a profile name — write '
                                 'profile = "reference"')
    wsse = options.get("wsse", "text")
    if wsse not in WSSE_MODES:
        raise ConfigurationError(f"adapter.wsse is {wsse!r} — use one of: "
                                 f"{', '.join(WSSE_MODES)}")
    http_auth = options.get("http_auth", "none")
    if http_auth not in HTTP_AUTH:
        raise ConfigurationError(f"adapter.http_auth is {http_auth!r} — use one of: "
                                 f"{', '.join(HTTP_AUTH)} (basic: the username and password "
                                 "as HTTP Basic authentication, as IIS asks)")
    loaded = load_profile(profile)
    # The credentials are needed for WS-Security, HTTP Basic, or where the profile's templates
    # use them (a login, or credentials in every message).
    needed = wsse != "none" or http_auth != "none" or bool(
        {"username", "password"} & names_used(loaded))
    username = _secret(options, secrets, "username_env", required=needed)
    password = _secret(options, secrets, "password_env", required=needed)
    timeout = options.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
            0 < timeout <= 600):
        raise ConfigurationError("adapter.timeout must be a number of seconds between 0 "
                                 "and 600 — write timeout = 10")
    register = options.get("register_on_delivery", False)
    if not isinstance(register, bool):
        raise ConfigurationError("adapter.register_on_delivery must be true or false — "
                                 "write register_on_delivery = true")
    page_size = options.get("page_size", 200)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not (
            1 <= page_size <= 10000):
        raise ConfigurationError("adapter.page_size must be a whole number from 1 to "
                                 "10000 — write page_size = 200")
    verify = options.get("verify", True)
    if not isinstance(verify, (bool, str)) or verify == "":
        raise ConfigurationError("adapter.verify must be true, false or the path of a CA "
                                 'bundle — write verify = "/etc/pishkhan/oa-ca.pem"')
    if isinstance(verify, str):
        _check_path("verify", verify)
    cert, key = options.get("client_cert"), options.get("client_key")
    for name, value in (("client_cert", cert), ("client_key", key)):
        if value is not None:
            _check_path(name, value)
    if key is not None and cert is None:
        raise ConfigurationError("adapter.client_key is set without adapter.client_cert — "
                                 'add client_cert = "/path/to/client.pem"')
    binding = bind(loaded, options.get("params"), options.get("maps"), secrets)
    return dict(wsdl=wsdl, profile=loaded, username=username, password=password, wsse=wsse,
                timeout=float(timeout), register_on_delivery=register, page_size=page_size,
                verify=verify, client_cert=cert, client_key=key, endpoint=endpoint,
                binding=binding, http_auth=http_auth)


def _check_url(key: str, value: Any, example: str) -> None:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https", "file") \
            or not (urlsplit(value).netloc or value.startswith("file:")):
        raise ConfigurationError(f"adapter.{key} is {value!r}, not an http(s) URL — "
                                 f"write {example}")


def _check_path(key: str, value: Any) -> None:
    if not isinstance(value, str) or not os.path.exists(value):
        raise ConfigurationError(f"adapter.{key} is {value!r}, which does not exist — give the "
                                 "path of an existing file")


def _secret(options: Mapping[str, Any], secrets: Mapping[str, str], key: str,
            required: bool) -> str | None:
    example = "OA_USERNAME" if key == "username_env" else "OA_PASSWORD"
    return secret(options, secrets, key, missing=None if not required else (
        f'adapter.{key} is missing — add {key} = "{example}" and set {example} in the '
        'environment (the profile or adapter.wsse / adapter.http_auth use them)'))
