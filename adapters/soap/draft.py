"""``pishkhan adapter draft WSDL_URL``: a commented profile skeleton from any WSDL, so an IT admin
starts from the vendor's real operation and field names (docs/adapters.md, step 1).

Every operation is listed with its input and output fields and their XSD types, each as a step
block ready to uncomment; a ``[session]`` block is filled in where an operation looks like a
login, and ``[status]`` where the answers share a result-code field. Mapping the neutral
operations (deliver, find, changes, ping) stays the admin's decision: the guesses are comments.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_LOGIN = re.compile(r"(log_?in|log_?on|sign_?in|authenticat|get_?(ticket|token|session)|"
                    r"open_?session|create_?session)", re.I)
_LOGOUT = re.compile(r"(log_?out|log_?off|sign_?out|close_?session|end_?session)", re.I)
_USER = re.compile(r"^(user(_?name)?|login(_?name)?|uname|usr)$", re.I)
_PASS = re.compile(r"^(pass(word)?|pwd|pass_?code)$", re.I)
_TICKET = re.compile(r"(ticket|token|session|sid|key|result)", re.I)
_CODE = re.compile(r"^(result_?code|error_?code|err_?code|status_?code|code|ret(urn)?_?code)$",
                   re.I)
# Fields that differ per organization rather than per letter: drafted as profile parameters.
_PARAM = re.compile(r"^(fld)?(organ_?id|org_?id|organization_?id|secretariat_?id|dabir\w*|"
                    r"company_?id|branch_?id)$", re.I)
_MESSAGE = re.compile(r"(message|msg|description|text)$", re.I)
_GUESSES = (("deliver", re.compile(r"(insert|add|create|new|send|save|register|deliver)", re.I)),
            ("find", re.compile(r"(search|find|get_?letter|lookup|query)", re.I)),
            ("changes", re.compile(r"(history|changes|events|log|assignment|tracking)", re.I)),
            ("ping", re.compile(r"(ping|time|echo|version|alive|health)", re.I)))
# Names our letters usually go to, by the vendor's field name: a first guess for the admin.
_FIELD_GUESSES = ((re.compile(r"^(file_?name|attach\w*name)$", re.I), "{item.name}"),
                  (re.compile(r"(mime|content_?type|file_?type)", re.I), "{item.content_type}"),
                  (re.compile(r"^(file|file_?data|file_?content|attachment|data|bytes)$", re.I),
                   "{item.content}"),
                  (re.compile(r"^(fld)?letter_?id$", re.I), "{letter_id}"),
                  (re.compile(r"subject|title|mozoo", re.I), "{subject}"),
                  (re.compile(r"body|matn|text|content$", re.I), "{body}"),
                  (re.compile(r"(reference|keyword|tracking|refno|ref_no)", re.I),
                   "{tracking_code}"),
                  (re.compile(r"national_?code|melli|ssn", re.I), "{sender_national_code}"),
                  (re.compile(r"mobile|cell|phone", re.I), "{sender_mobile}"),
                  (re.compile(r"sender_?name|from_?name|name$", re.I), "{sender_name}"),
                  (re.compile(r"unit|receiver|department|comision|commission", re.I),
                   "{unit_code}"),
                  (re.compile(r"date|time", re.I), "{submitted_at|jalali(datetime)}"))


@dataclass
class Field:
    path: str
    type: str
    many: bool = False
    optional: bool = False


@dataclass
class Op:
    name: str
    inputs: list[Field] = field(default_factory=list)
    outputs: list[Field] = field(default_factory=list)


def draft_profile(wsdl: str) -> str:
    """The skeleton for the WSDL at ``wsdl`` (a URL or a file); failures are classified."""
    from .errors import classify
    try:
        service, ops = read_wsdl(wsdl)
    except Exception as exc:
        raise classify(exc, action=f"reading the WSDL at {wsdl}", loading_wsdl=True) from exc
    return draft(wsdl, ops, service)


def read_wsdl(wsdl: str, timeout: float = 20) -> tuple[str, list[Op]]:
    """The service's name and its operations, read with zeep (DTDs and entities refused)."""
    import requests
    import zeep

    session = requests.Session()
    transport = zeep.Transport(session=session, timeout=timeout, operation_timeout=timeout)
    settings = zeep.Settings(strict=False, forbid_dtd=True, forbid_entities=True,
                             forbid_external=True)
    try:
        client = zeep.Client(wsdl, transport=transport, settings=settings)
        ops: dict[str, Op] = {}
        names = []
        for service in client.wsdl.services.values():
            names.append(service.name)
            for port in service.ports.values():
                for name, operation in port.binding._operations.items():
                    if name in ops:
                        continue
                    ops[name] = Op(name, _fields(_body(operation.input)),
                                   _fields(_body(operation.output)))
        return ", ".join(names), list(ops.values())
    finally:
        session.close()


def _body(message: Any) -> Any:
    body = getattr(message, "body", None)
    return getattr(body, "type", None)


def _fields(xsd_type: Any, prefix: str = "", depth: int = 0) -> list[Field]:
    found: list[Field] = []
    for name, element in getattr(xsd_type, "elements", None) or []:
        path = f"{prefix}{name}"
        many = element.max_occurs not in (1, None)
        optional = element.min_occurs == 0
        children = getattr(element.type, "elements", None)
        if children and depth < 4:
            nested = _fields(element.type, f"{path}.", depth + 1)
            for child in nested:
                child.many = child.many or many
            found += nested
        else:
            kind = getattr(element.type, "name", None) or type(element.type).__name__
            found.append(Field(path, str(kind), many, optional))
    return found


def draft(wsdl: str, ops: list[Op], service: str = "") -> str:
    """The commented profile skeleton (TOML) for these operations."""
    out = [f"# Profile skeleton drafted from {wsdl}",
           f"# Service: {service or 'unnamed'} — {len(ops)} operations.",
           "# Complete it by configuration only (docs/adapters.md): map deliver, find, changes",
           "# (or [find.statuses]) and ping onto the operations listed at the end, then run",
           "#   pishkhan config check && pishkhan adapter check ORG --exchange",
           'name = "vendor"            # pick a short name: it prefixes routing change ids',
           'description = "…"',
           'date_format = "jalali"     # "iso" if its dates are xs:dateTime', ""]
    login = next((o for o in ops if _LOGIN.search(o.name)), None)
    code_path, message_path = _status_paths(ops)
    if login is not None:
        out += _session(login, next((o for o in ops if _LOGOUT.search(o.name)), None),
                        code_path)
    if code_path:
        out += ["# Every answer seems to carry a result code here; list what each one means",
                "# (ok, ignore, not-found, already-exists, relogin, transient, permanent,",
                "# configuration, ambiguous). Steps override with codes = { … }.",
                "[status]", f'path = "{code_path}"']
        if message_path:
            out.append(f'message = "{message_path}"')
        out += ['default = "permanent"', "[status.codes]", '"0" = "ok"', ""]
    params = sorted({(_snake(f.path.rsplit(".", 1)[-1]), f.type) for op in ops
                     for f in op.inputs if _PARAM.match(f.path.rsplit(".", 1)[-1])})
    for name, xsd in params:
        out += [f"[params.{name}]          # each organization gives it in [adapter.params]",
                f'type = "{"int" if xsd in ("int", "long", "short") else "str"}"', ""]
    out += ["# ---------------------------------------------------------------------------",
            "# The operations. Uncomment the steps you need under the neutral operation",
            "# they serve; the first guess is in each block's title.", ""]
    for op in ops:
        out += _block(op, login is not None)
    return "\n".join(out).rstrip() + "\n"


def _session(login: Op, logout: Op | None, code_path: str) -> list[str]:
    args = []
    for f in login.inputs:
        leaf = f.path.rsplit(".", 1)[-1]
        value = "{username}" if _USER.match(leaf) else "{password}" if _PASS.match(leaf) \
            else "…"
        args.append(f'{f.path} = "{value}"')
    ticket = next((f.path for f in login.outputs if _TICKET.search(f.path.rsplit(".", 1)[-1])
                   and f.path != code_path and not _CODE.match(f.path.rsplit(".", 1)[-1])),
                  login.outputs[0].path if login.outputs else "")
    lines = [f"# {login.name} looks like a login: each call then carries its ticket.",
             "[session]", f'call = "{login.name}"',
             "args = { " + ", ".join(args) + " }",
             f'ticket = "{ticket}"          # where the ticket is in the answer',
             'pass_as = "argument"       # write Ticket = "{session}" in each step; or "header"'
             ' / "cookie"',
             "lifetime_seconds = 0       # seconds a ticket lives, if the vendor says",
             'relogin_codes = []         # result codes meaning "session expired", e.g. ["1"]',
             'relogin_faults = []        # or fault texts, e.g. ["SessionExpired"]']
    if logout is not None:
        lines += ["[session.logout]", f'call = "{logout.name}"',
                  "args = { " + ", ".join(f'{f.path} = "{{session}}"' for f in logout.inputs
                                          if _TICKET.search(f.path)) + " }"]
    return lines + [""]


def _status_paths(ops: list[Op]) -> tuple[str, str]:
    """The result-code (and message) path most answers share, if most do."""
    counts: Counter[str] = Counter()
    for op in ops:
        for f in op.outputs:
            if _CODE.match(f.path.rsplit(".", 1)[-1]) and not f.many:
                counts[_inside_result(op, f.path)] += 1
    if not counts:
        return "", ""
    path, seen = counts.most_common(1)[0]
    if seen * 2 < len(ops):
        return "", ""
    parent = path.rsplit(".", 1)[0] + "." if "." in path else ""
    message = next((p for op in ops for f in op.outputs
                    if (p := _inside_result(op, f.path)).startswith(parent) and p != path
                    and _MESSAGE.search(p.rsplit(".", 1)[-1])), "")
    return path, message


def _inside_result(op: Op, path: str) -> str:
    """A path without a leading ``<Operation>Result``: WCF wraps each answer in its own
    XxxResult, which zeep unwraps, so one [status] path then serves every operation."""
    head, _, rest = path.partition(".")
    return rest if rest and head.lower() == f"{op.name}Result".lower() else path


def _block(op: Op, session: bool) -> list[str]:
    guess = next((neutral for neutral, pattern in _GUESSES if pattern.search(op.name)), "?")
    own = session and bool(_LOGIN.search(op.name) or _LOGOUT.search(op.name))
    ins = ", ".join(f"{f.path}: {f.type}{'[]' if f.many else ''}{'?' if f.optional else ''}"
                    for f in op.inputs) or "no input"
    outs = ", ".join(f"{f.path}: {f.type}{'[]' if f.many else ''}" for f in op.outputs) or \
        "no output"
    table = guess if guess != "?" else "OPERATION"
    title = "the [session] block above uses it" if own else f"perhaps: {guess}"
    lines = [f"# === {op.name}  ({title})", f"#   in:  {ins}", f"#   out: {outs}"]
    if own:
        return lines + [""]
    lines += [f"# [[{table}.steps]]", f'# call = "{op.name}"', f"# [{table}.steps.args]"]
    for f in op.inputs:
        # Nested inputs as dotted keys (request.Subject = …), which TOML reads as tables.
        leaf = f.path.rsplit(".", 1)[-1]
        if f.many and "." in f.path:
            lines.append(f"# {f.path} = …    # repeated: {f.path.rsplit('.', 1)[0]} = "
                         '{ for_each = "attachments", template = { … } }')
            continue
        if session and _TICKET.search(leaf) and not _CODE.match(leaf):
            value = "{session}"
        elif _USER.match(leaf) or _PASS.match(leaf):  # credentials in every message
            value = "{username}" if _USER.match(leaf) else "{password}"
        elif _PARAM.match(leaf):
            value = f"{{params.{_snake(leaf)}}}"
        else:
            value = next((v for pattern, v in _FIELD_GUESSES if pattern.search(leaf)), "")
            if value == "{item.content}" and f.type == "string":
                value = "{item.content|base64}"  # a file typed as text: base64 it ourselves
            if f.type in ("int", "long", "short") and value:
                value = value.replace("}", "|int}")
        lines.append(f'# {f.path} = "{value}"' + ("" if value else f"    # {f.type}: map it"))
    lines.append(f"# [{table}.steps.outputs]")
    for f in op.outputs[:8]:
        name = "letter_id" if re.search(r"^(fld)?letter_?id$", f.path, re.I) else "?"
        lines.append(f'# {name} = "{f.path}"')
    return lines + [""]


def _snake(name: str) -> str:
    """OrganId → organ_id, fldSecretariatID → secretariat_id."""
    name = re.sub(r"^fld", "", name)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("__", "_")
