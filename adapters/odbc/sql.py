"""Named parameters (``:tracking_code``, ``:item.name``) in configured SQL, bound as ODBC ``?``
markers. Values are never spliced into the text, so a letter's subject cannot change the SQL."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# Quoted literals and quoted identifiers are matched first so a ':' inside them is left alone;
# '::' (PostgreSQL casts) is not a parameter.
_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|::|(?<![\w:]):([A-Za-z_][\w.]*)""")


def bind(sql: str) -> tuple[str, list[str]]:
    """The SQL with ``?`` markers and the parameter names in marker order."""
    names: list[str] = []

    def swap(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)
        names.append(match.group(1))
        return "?"

    return _TOKEN.sub(swap, sql), names


def values(names: list[str], context: Mapping[str, Any],
           resolve: Callable[[Any, str], Any]) -> list[Any]:
    return [resolve(context, name) for name in names]
