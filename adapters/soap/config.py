"""The SOAP adapter's options (an organization's ``[adapter]`` table) turned into its keyword
arguments; every mistake is a ConfigurationError naming the key and the fix. Touches no
network."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.plugins.explain import check_options

from ..options import secret
from .checks import bind, names_used
from .options import SoapOptions
from .profile import load_profile


def adapter_options(options: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """SoapAdapter's keyword arguments from an ``[adapter]`` table: the declared options
    (:class:`SoapOptions`) first, then what needs the profile — the credentials its templates
    use, its parameters and value maps."""
    o = check_options(SoapOptions, options, "adapter")
    loaded = load_profile(o.profile)
    # The credentials are needed for WS-Security, HTTP Basic, or where the profile's templates
    # use them (a login, or credentials in every message).
    needed = o.wsse != "none" or o.http_auth != "none" or bool(
        {"username", "password"} & names_used(loaded))
    username = _secret(options, secrets, "username_env", required=needed)
    password = _secret(options, secrets, "password_env", required=needed)
    binding = bind(loaded, options.get("params"), options.get("maps"), secrets)
    return dict(wsdl=o.wsdl, profile=loaded, username=username, password=password, wsse=o.wsse,
                timeout=float(o.timeout), register_on_delivery=o.register_on_delivery,
                page_size=o.page_size, verify=o.verify, client_cert=o.client_cert,
                client_key=o.client_key, endpoint=o.endpoint, binding=binding,
                http_auth=o.http_auth)


def _secret(options: Mapping[str, Any], secrets: Mapping[str, str], key: str,
            required: bool) -> str | None:
    example = "OA_USERNAME" if key == "username_env" else "OA_PASSWORD"
    return secret(options, secrets, key, missing=None if not required else (
        f'adapter.{key} is missing — add {key} = "{example}" and set {example} in the '
        'environment (the profile or adapter.wsse / adapter.http_auth use them)'))
