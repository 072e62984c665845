"""Running a profile's operation: its steps in order, each one SOAP call through ``call``.

``call(spec, kwargs)`` makes the call for a step (or a reconcile look-up) and returns the answer;
it raises :class:`NotFound` or :class:`AlreadyExists` where the answer's result code says so
(the classes ``not-found`` and ``already-exists``), and the core's error classes otherwise.
The session ticket is not part of the context: templates render ``{session}`` as a token that
``call`` replaces with the live ticket, so a ticket is never a step output, never stored as
progress and never replayed.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from connector.domain.errors import AmbiguousError, PermanentError
from connector.domain.letter import OutgoingAttachment
from connector.plugins.ports import DeliveryProgress

from .model import Operation, Reconcile, Step
from .templates import MapLookup, render, resolve, resolve_answer

Call = Callable[[Any, dict[str, Any]], Any]
# What a look-up by tracking code found (letter_id, number, …), or None: for already-exists.
Lookup = Callable[[], "dict[str, Any] | None"]


class NotFound(Exception):
    """The system answered "nothing found" (a result code of class not-found)."""


class AlreadyExists(Exception):
    """The system answered "this already exists" (class already-exists)."""

    def __init__(self, answer: Any) -> None:
        super().__init__("already exists")
        self.answer = answer


def usable_id(value: Any) -> bool:
    """An id a receipt can carry: not absent, empty, zero or negative (what such systems
    answer alongside "success" when nothing was made)."""
    if value is None:
        return False
    text = str(value).strip()
    return text not in ("", "0", "None", "null") and not text.startswith("-") and \
        text != "00000000-0000-0000-0000-000000000000"


def run(operation: Operation, context: Mapping[str, Any], call: Call,
        maps: MapLookup | None = None, lookup: Lookup | None = None,
        strict_ids: bool = False) -> dict[str, Any]:
    """Run an operation's steps; return the context with every step's outputs added.
    ``strict_ids``: a step that outputs letter_id must give a usable one (deliveries)."""
    ctx = dict(context)
    for step in operation.steps:
        if step.when and not resolve(ctx, step.when):
            continue
        items = (resolve(ctx, step.for_each) or []) if step.for_each else [None]
        for item in items:
            local = {**ctx, "item": item} if step.for_each else ctx
            ctx.update(_do_step(step, local, call, maps, lookup, strict_ids))
    return ctx


def run_resuming(operation: Operation, context: Mapping[str, Any], call: Call,
                 progress: DeliveryProgress, maps: MapLookup | None = None,
                 lookup: Lookup | None = None) -> dict[str, Any]:
    """Like :func:`run`, but each finished step (each item of a ``for_each`` step) is stored in
    ``progress`` and skipped when the operation is run again; after an ambiguous failure the
    first unfinished step is looked up (the first step by the core's ``find``, others by their
    ``reconcile``) before it is repeated."""
    ctx = dict(context)
    uncertain = progress.uncertain
    for i, step in enumerate(operation.steps):
        if step.when and not resolve(ctx, step.when):
            continue
        items = (resolve(ctx, step.for_each) or []) if step.for_each else [None]
        for j, item in enumerate(items):
            key = f"{i}.{step.call}" + (f".{j}" if step.for_each else "")
            saved = progress.get(key)
            if saved is not None:
                ctx.update(saved)
                continue
            local = {**ctx, "item": item} if step.for_each else ctx
            outputs = None
            if i == 0 and progress.found is not None:
                outputs = {"letter_id": progress.found.external_id}
            elif uncertain:
                outputs = _reconcile(step.reconcile, local, call, maps)
            uncertain = False
            if outputs is None:
                outputs = _do_step(step, local, call, maps, lookup, True)
            outputs = {name: _jsonable(value) for name, value in outputs.items()}
            progress.put(key, outputs)
            ctx.update(outputs)
    return ctx


def _do_step(step: Step, context: Mapping[str, Any], call: Call, maps: MapLookup | None,
             lookup: Lookup | None, strict_ids: bool) -> dict[str, Any]:
    try:
        answer = call(step, render(step.args, context, maps) or {})
    except AlreadyExists as exists:
        return _existing(step, context, exists.answer, call, maps, lookup)
    outputs = {name: resolve_answer(answer, path) for name, path in step.outputs.items()}
    if strict_ids and "letter_id" in outputs and not usable_id(outputs["letter_id"]):
        raise AmbiguousError(f"{step.call}: the system answered success but gave no usable "
                             f"letter id ({outputs['letter_id']!r}); the letter may exist — "
                             "look it up before sending it again")
    return outputs


def _existing(step: Step, context: Mapping[str, Any], answer: Any, call: Call,
              maps: MapLookup | None, lookup: Lookup | None) -> dict[str, Any]:
    """The step's outputs when the system says its work already exists: the letter looked up
    by tracking code (a step that makes the letter), the step's reconcile look-up, or else
    (a step with no look-up) the answer as it is. A step whose look-up does not find its work
    fails: what exists is something else (a file of the same name but other content), and
    taking it for ours would drop ours silently."""
    if "letter_id" in step.outputs:
        found = lookup() if lookup is not None else None
        if not found or not usable_id(found.get("letter_id")):
            raise AmbiguousError(f"{step.call}: the system says the letter already exists, but "
                                 "the look-up by tracking code does not find it")
        return {name: found.get(name) for name in step.outputs if name in found}
    looked_up = _reconcile(step.reconcile, context, call, maps)
    if looked_up is not None:
        return looked_up
    if step.reconcile is not None:
        raise PermanentError(f"{step.call}: the system says this already exists, but its "
                             f"look-up ({step.reconcile.call}) does not find ours — something "
                             "else of the same name is there")
    return {name: resolve_answer(answer, path) for name, path in step.outputs.items()}


def _reconcile(spec: Reconcile | None, context: Mapping[str, Any], call: Call,
               maps: MapLookup | None) -> dict[str, Any] | None:
    """The step's outputs if the system shows it took effect, else None (or the step has no
    way to look it up: then the ambiguous failure was in an earlier step, already settled)."""
    if spec is None:
        return None
    try:
        answer = call(spec, render(spec.args, context, maps) or {})
    except NotFound:
        return None
    records = resolve_answer(answer, spec.list) if spec.list else answer
    if records is None:
        records = []
    elif not isinstance(records, (list, tuple)):
        records = [records]
    wanted = {path: render(template, context, maps) for path, template in spec.match.items()}
    for record in records:
        if all(_same(resolve(record, path), value) for path, value in wanted.items()) and \
                all(resolve(record, path) not in (None, "") for path in spec.present):
            return {name: resolve(record, path) for name, path in spec.outputs.items()}
    return None


def file_context(external_id: str, tracking_code: str, a: OutgoingAttachment
                 ) -> dict[str, Any]:
    """The context of [add_attachments] for one file: the file is ``item`` and the one entry
    of ``attachments`` (the step's ``for_each``)."""
    letter_id: Any = int(external_id) if external_id.isdigit() else external_id
    item = {"name": a.name, "content_type": a.content_type, "content": a.content,
            "size": len(a.content)}
    return {"letter_id": letter_id, "tracking_code": tracking_code, "item": item,
            "attachments": [item]}


def files_present(operation: Operation | None, contexts: list[dict[str, Any]], call: Call,
                  maps: MapLookup | None = None) -> tuple[bool, ...]:
    """For each file's context, whether the look-up (``reconcile``) of the operation's
    ``for_each`` step finds it on the letter. NotImplementedError when there is none."""
    steps = [s for s in (operation.steps if operation else ()) if s.for_each and s.reconcile]
    if not steps:
        raise NotImplementedError("this dialect cannot list a letter's files")
    return tuple(_reconcile(steps[0].reconcile, ctx, call, maps) is not None
                 for ctx in contexts)


def _same(found: Any, wanted: Any) -> bool:
    return found is not None and wanted is not None and str(found).strip() == str(wanted).strip()


def _jsonable(value: Any) -> Any:
    """A step output as the core can store it (JSON)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


class LookFirst(DeliveryProgress):
    """Progress for adding one file: nothing stored, and the step looked up before it is sent
    (its single effectful call is then the only one an error can be about)."""

    uncertain = True

    def __init__(self) -> None:
        self.steps: dict[str, Any] = {}

    def get(self, step: str) -> Any:
        return self.steps.get(step)

    def put(self, step: str, value: Any) -> None:
        self.steps[step] = value
