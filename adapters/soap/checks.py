"""Load-time checks of a profile's templates, and binding an organization's parameters and map
overrides to it — so a misspelled placeholder, an unknown filter or a missing map entry fails
``pishkhan config check`` naming the profile, the step, the placeholder and the fix, instead of
the first real letter."""
from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.domain.errors import ConfigurationError
from connector.plugins.secrets import env_secret

from .templates import Placeholder, TemplateError, parse_placeholder, placeholders

if TYPE_CHECKING:
    from .model import Profile

Bad = Callable[[str, str], Exception]
# Fields whose every value we know, so a value map used on them must list each one.
DOMAINS: dict[str, tuple[str, ...]] = {"applicant_type": ("natural", "legal")}


MapUse = tuple[str, str, str, str]  # (where, placeholder as written, field, map)


def check_profile_templates(profile: Profile, bad: Bad) -> tuple[MapUse, ...]:
    """Check every template of the profile; return where value maps are used, for the check of
    each organization's merged maps (:func:`bind`)."""
    from .profile import ATTACHMENT_FIELDS, COMMON_FIELDS, CONTEXT_FIELDS, RESULT_FIELDS
    session_used = False
    uses: list[MapUse] = []
    for op_name, op in profile.operations.items():
        known = set(CONTEXT_FIELDS[op_name]) | COMMON_FIELDS
        referenced: set[str] = set()
        for i, step in enumerate(op.steps):
            where = f"{op_name}.steps[{i}] ({step.call})"
            if step.for_each:
                _check_name(profile, parse_placeholder(step.for_each), known, False,
                            f"{where}.for_each", bad, ATTACHMENT_FIELDS)
            if step.when:
                _check_name(profile, parse_placeholder(step.when), known, False,
                            f"{where}.when", bad, ATTACHMENT_FIELDS)
            in_item = step.for_each is not None
            tables = [("args", step.args)]
            if step.reconcile:
                tables += [("reconcile.args", step.reconcile.args),
                           ("reconcile.match", step.reconcile.match)]
            for part, table in tables:
                for ph, inside in _placeholders(table, f"{where}.{part}", bad):
                    _check_name(profile, ph, known, in_item or inside, f"{where}.{part}", bad,
                                ATTACHMENT_FIELDS)
                    uses += [(f"{where}.{part}", _text(ph), ph.name, arg or "")
                             for fname, arg in ph.filters if fname == "map"]
                    session_used |= ph.root == "session"
                    referenced.add(ph.root)
            referenced.update(n.split(".")[0] for n in (step.for_each, step.when) if n)
            known |= set(step.outputs)
            if step.reconcile:
                known |= set(step.reconcile.outputs)
        produced = {n for s in op.steps for n in s.outputs}
        unused = produced - RESULT_FIELDS[op_name] - referenced
        if unused:
            raise bad(f"[{op_name}]", f"outputs {sorted(unused)}, which nothing reads; "
                                      f"the adapter reads {sorted(RESULT_FIELDS[op_name])}")
        if op.statuses and "status" not in produced:
            raise bad("[find.statuses]", "maps statuses, but no find step outputs status — add "
                                         'status = "<path>" to the outputs')
    deliver = profile.operations["deliver"]
    first_id = next((i for i, s in enumerate(deliver.steps) if "letter_id" in s.outputs), 0)
    if any(not s.idempotent for s in deliver.steps[1:first_id + 1]):
        # A multi-step delivery resumes from the letter found by tracking code; what comes
        # before the step giving the id must be the insert and read-only look-ups.
        raise bad(f"deliver.steps[{first_id}]", "outputs letter_id after a step that writes: "
                  "output letter_id from the first step, or from look-up steps marked "
                  "idempotent = true right after it (log in with [session], not a step)")
    session = profile.session
    if session is not None:
        known = set(COMMON_FIELDS) - {"session"}
        for ph, inside in _placeholders(session.args, "session.args", bad):
            _check_name(profile, ph, known, inside, "session.args", bad, ATTACHMENT_FIELDS)
        if session.pass_as == "argument" and not session_used:
            raise bad("[session]", 'passes the ticket as an argument, but no step uses '
                                   '{session} — add Ticket = "{session}" to each step\'s args, '
                                   'or use pass_as = "header" / "cookie"')
        if session.logout:
            for ph, inside in _placeholders(session.logout.args, "session.logout.args", bad):
                _check_name(profile, ph, known | {"session"}, inside, "session.logout.args",
                            bad, ATTACHMENT_FIELDS)
    return tuple(uses)


def _text(ph: Placeholder) -> str:
    return "{" + ph.name + "".join(f"|{f}" + (f"({a})" if a is not None else "")
                                   for f, a in ph.filters) + "}"


def names_used(profile: Profile) -> set[str]:
    """The context names every template of the profile uses (e.g. username, password)."""
    tables: list[Any] = [s.args for op in profile.operations.values() for s in op.steps]
    tables += [s.reconcile.args for op in profile.operations.values() for s in op.steps
               if s.reconcile]
    if profile.session:
        tables.append(profile.session.args)
    return {ph.root for table in tables for ph, _ in placeholders(table)}


def _placeholders(table: Any, where: str, bad: Bad) -> list[tuple[Placeholder, bool]]:
    try:
        return list(placeholders(table))
    except TemplateError as exc:
        raise bad(where, f"{exc}") from None


def _check_name(profile: Profile, ph: Placeholder, known: set[str], in_item: bool, where: str,
                bad: Bad, attachment_fields: Iterable[str]) -> None:
    text = _text(ph)
    root = ph.root
    if root == "item":
        if not in_item:
            raise bad(where, f"uses {text} outside a for_each — {{item.…}} exists only in a "
                             'step with for_each = "attachments" or a for_each table')
        sub = ph.name.split(".")[1] if "." in ph.name else ""
        if sub and sub not in attachment_fields:
            raise bad(where, f"uses {text}: an attachment has no field {sub!r}"
                             + _suggest(sub, attachment_fields))
    elif root == "params":
        sub = ph.name.split(".")[1] if "." in ph.name else ""
        if sub not in profile.params:
            raise bad(where, f"uses {text}, but the profile declares no parameter {sub!r} — "
                             f"add [params.{sub or 'name'}] with its type"
                             + _suggest(sub, profile.params))
    elif root == "session":
        if profile.session is None:
            raise bad(where, f"uses {text}, but the profile has no [session] block — add one "
                             "(call, args, ticket)")
        if ph.filters:
            raise bad(where, f"uses {text}: the session ticket takes no filters — write "
                             "{session}")
    elif root not in known:
        raise bad(where, f"uses the placeholder {text}, which is not a known name"
                         + _suggest(root, known) + f"; known here: {', '.join(sorted(known))}")
    for fname, arg in ph.filters:
        if fname != "map":
            continue
        if arg not in profile.maps:
            raise bad(where, f"uses {text}, but the profile has no map {arg!r} — add "
                             f"[maps.{arg}] with one line per value" + _suggest(arg or "",
                                                                               profile.maps))


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" — did you mean {close[0]!r}?" if close else ""


# -- an organization's parameters and map overrides -----------------------------------------

@dataclass(frozen=True)
class Binding:
    params: Mapping[str, Any]
    maps: Mapping[str, Mapping[str, Any]]
    secrets: tuple[str, ...]

    def lookup(self, name: str, value: Any) -> Any:
        """``{x|map(name)}``: their value for ours."""
        table = self.maps.get(name, {})
        key = str(value.value if hasattr(value, "value") else value)
        if key in table:
            return table[key]
        if "*" in table:
            return table["*"]
        raise ConfigurationError(f"value map {name!r} has no entry for {key!r} — add "
                                 f"{key} = <their value> under [adapter.maps.{name}] in the "
                                 "organization file or [maps." + name + "] in the profile")


def bind(profile: Profile, params: Any, maps: Any, env: Mapping[str, str]) -> Binding:
    """Check ``[adapter.params]`` and ``[adapter.maps]`` against what the profile declares."""
    prefix = f"profile {profile.name!r}"
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ConfigurationError("adapter.params must be a table: [adapter.params] with one "
                                 "line per parameter")
    values: dict[str, Any] = {}
    secrets: list[str] = []
    given = set(params)
    for name, spec in profile.params.items():
        key = f"{name}_env" if spec.type == "secret" else name
        given.discard(key)
        if key not in params:
            if spec.required:
                raise ConfigurationError(
                    f"{prefix} needs the parameter {name!r} ({spec.description or spec.type}) — "
                    f"add {key} = " + ('"ENV_VARIABLE"' if spec.type == "secret" else
                                       "<value>") + " under [adapter.params]")
            values[name] = spec.default
            continue
        raw = params[key]
        if spec.type == "secret":
            values[name] = env_secret(raw, env, f"adapter.params.{key}", key, "OA_API_KEY")
            secrets.append(values[name])
        elif spec.type == "int" and (isinstance(raw, bool) or not isinstance(raw, int)):
            raise ConfigurationError(f"adapter.params.{name} must be a whole number for "
                                     f"{prefix} — write {name} = 1")
        elif spec.type == "bool" and not isinstance(raw, bool):
            raise ConfigurationError(f"adapter.params.{name} must be true or false")
        elif spec.type == "str" and not isinstance(raw, str):
            raise ConfigurationError(f"adapter.params.{name} must be a string — write "
                                     f'{name} = "{raw}"')
        else:
            values[name] = raw
    if given:
        extra = sorted(given)[0]
        raise ConfigurationError(
            f"adapter.params.{extra} is not a parameter of {prefix}"
            + _suggest(extra, [f"{n}_env" if p.type == "secret" else n
                               for n, p in profile.params.items()])
            + f"; it declares: {', '.join(sorted(profile.params)) or 'none'}")
    merged = {name: dict(table) for name, table in profile.maps.items()}
    if maps is not None:
        if not isinstance(maps, dict) or not all(isinstance(v, dict) for v in maps.values()):
            raise ConfigurationError("adapter.maps must hold one table per map: "
                                     "[adapter.maps.sender_type] natural = 1")
        for name, table in maps.items():
            if name not in merged:
                raise ConfigurationError(f"adapter.maps.{name} overrides no map of {prefix}"
                                         + _suggest(name, merged) + f"; it has: "
                                         f"{', '.join(sorted(merged)) or 'none'}")
            merged[name].update({str(k): v for k, v in table.items()})
    for where, text, name, map_name in profile.map_uses:
        domain = DOMAINS.get(name, ())
        if name.startswith("params."):
            domain = (str(values.get(name.split(".", 1)[1])),)
        table = merged.get(map_name, {})
        missing = [v for v in domain if v not in table and "*" not in table]
        if missing:
            raise ConfigurationError(
                f"{prefix} ({profile.source}): {where} uses {text}, but the map {map_name!r} "
                f"has no entry for {', '.join(map(repr, missing))} — add {missing[0]} = "
                f"<their value> under [maps.{map_name}] in the profile or "
                f"[adapter.maps.{map_name}] in the organization file")
    return Binding(params=values, maps=merged, secrets=tuple(secrets))
