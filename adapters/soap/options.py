"""The SOAP adapter's options (an organization's ``[adapter]`` table with type = "soap"),
declared as a pydantic model: its JSON Schema joins the organization file's, and every mistake
becomes a ConfigurationError naming ``adapter.KEY`` and the fix."""
from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _url(value: str, example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or
                                                              value.startswith("file:")):
        raise ValueError(f"is {value!r}, not an http(s) URL — write {example}")
    return value


def _path(value: str) -> str:
    if not os.path.exists(value):
        raise ValueError(f"is {value!r}, which does not exist — give the path of an existing "
                         "file")
    return value


class SoapOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True,
                              title="SOAP adapter options")

    wsdl: str = Field(min_length=1, description="the service's WSDL address",
                      examples=["https://oa.example.ir/Service.svc?wsdl"])
    endpoint: str | None = Field(None, description="the address to call, when the WSDL's "
                                 "is wrong", examples=["https://oa.example.ir/Service.svc"])
    profile: str = Field("reference", min_length=1, description="the dialect: a shipped "
                         "profile's name or the path of a profile .toml file")
    username_env: str | None = Field(None, description="environment variable holding the "
                                     "user name", examples=["OA_USERNAME"])
    password_env: str | None = Field(None, description="environment variable holding the "
                                     "password", examples=["OA_PASSWORD"])
    wsse: Literal["text", "digest", "none"] = Field(
        "text", description="WS-Security UsernameToken: text, digest, or none")
    timeout: float = Field(10.0, gt=0, le=600, description="seconds per call")
    register_on_delivery: bool = False
    page_size: int = Field(200, ge=1, le=10000, description="routing changes per call")
    verify: bool | str = Field(True, description="check the server's certificate: true, "
                               "false or the path of a CA bundle")
    client_cert: str | None = Field(None, description="client certificate file (mutual TLS)")
    client_key: str | None = None
    http_auth: Literal["none", "basic"] = Field(
        "none", description="basic: the username and password as HTTP Basic authentication, "
        "as IIS sites ask")
    params: dict[str, Any] = Field(
        default_factory=dict, description="values for the parameters the profile declares "
        "([params.X]); a secret by environment-variable name as X_env",
        examples=[{"organ_id": 12, "secretariat_env": "OA_SECRETARIAT"}])
    maps: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="this organization's entries of the profile's value "
        "maps, by map name: our value -> the system's", examples=[{"units": {"civil": "12"}}])

    @field_validator("wsdl")
    @classmethod
    def _wsdl(cls, value: str) -> str:
        return _url(value, 'wsdl = "https://oa.example.ir/Service.svc?wsdl"')

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else _url(value, 'endpoint = '
                                                      '"https://oa.example.ir/Service.svc"')

    @field_validator("verify")
    @classmethod
    def _verify(cls, value: bool | str) -> bool | str:
        if value == "":
            raise ValueError('is empty — write verify = true, false or "/etc/pishkhan/oa-ca.pem"')
        return _path(value) if isinstance(value, str) else value

    @field_validator("client_cert", "client_key")
    @classmethod
    def _files(cls, value: str | None) -> str | None:
        return None if value is None else _path(value)

    @model_validator(mode="after")
    def _pair(self) -> SoapOptions:
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key is set without client_cert — add client_cert = "
                             '"/path/to/client.pem"')
        return self
