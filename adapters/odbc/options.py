"""The ODBC adapter's options (an organization's ``[adapter]`` table with type = "odbc"),
declared as a pydantic model: its JSON Schema joins the organization file's, and every mistake
becomes a ConfigurationError naming ``adapter.KEY`` and the fix."""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator


class OdbcOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True,
                              title="ODBC adapter options")

    connection: str = Field(description="the ODBC connection string, without a password",
                            examples=["Driver={PostgreSQL Unicode};Server=db.example.ir;"
                                      "Port=5432;Database=oa"])
    profile: str = Field("sandbox", min_length=1, description="the SQL profile: a shipped "
                         "profile's name or the path of a profile .toml file")
    username_env: str | None = Field(None, description="environment variable holding the "
                                     "database user", examples=["OA_DB_USER"])
    password_env: str | None = Field(None, description="environment variable holding the "
                                     "password", examples=["OA_DB_PASSWORD"])
    timeout: float = Field(10.0, ge=0.1, le=600, description="seconds per statement")
    register_on_delivery: bool = False
    page_size: int = Field(200, ge=1, le=10000, description="feed rows read per query")
    overlap: int = Field(0, ge=0, le=100000, description="feed rows read again each poll, "
                         "for feeds whose ids are not given in commit order")
    sweep_every: int = Field(0, ge=0, le=100000, description="polls between full sweeps "
                             "(0: never)")
    sweep: int = Field(1000, ge=0, le=10000000, description="rows a full sweep reads")

    @field_validator("connection")
    @classmethod
    def _connection(cls, value: str) -> str:
        if "=" not in value:
            raise ValueError('is not a connection string — write connection = "Driver='
                             '{PostgreSQL Unicode};Server=db.example.ir;Port=5432;Database=oa"')
        if re.search(r"(?i)(^|;)\s*pwd\s*=", value):
            raise ValueError("holds a password — remove PWD=… and name an environment "
                             'variable: password_env = "OA_DB_PASSWORD"')
        return value
