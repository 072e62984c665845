"""Profiles of the SOAP adapter (loading, paths, templates, steps) and failure classification,
without any server."""
from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import urllib3.exceptions
import zeep.exceptions

from adapters.options import IGNORE
from adapters.soap.errors import classify
from adapters.soap.profile import (
    PROFILE_DIR,
    Operation,
    Step,
    load_profile,
    parse_profile,
    render,
    resolve,
    run,
)
from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    PermanentError,
    TransientError,
)
from connector.domain.letter import ChangeKind


def reference_data() -> dict[str, Any]:
    return tomllib.loads((PROFILE_DIR / "reference.toml").read_text(encoding="utf-8"))


# -- loading --------------------------------------------------------------------------------

def test_reference_profile_and_its_alias() -> None:
    profile = load_profile("reference")
    assert load_profile("sandbox") == profile
    assert profile.calls() == {"DeliverLetter", "FindLetter", "GetChanges", "GetReply", "Ping",
                               "AddAttachment", "ListAttachments"}
    assert profile.kind("registered") is ChangeKind.REGISTERED
    assert profile.kind("incomplete") is ChangeKind.DOCUMENTS_REQUESTED
    assert profile.kind("archived") is None


def test_profile_by_path_and_ignored_kinds(tmp_path: Path) -> None:
    text = (PROFILE_DIR / "reference.toml").read_text(encoding="utf-8")
    path = tmp_path / "custom.toml"
    path.write_text(text.replace('name = "reference"', 'name = "custom"')
                    .replace('closed = "closed"', 'closed = "closed"\nviewed = "ignore"'),
                    encoding="utf-8")
    profile = load_profile(str(path))
    assert profile.name == "custom" and profile.kind("viewed") == IGNORE


@pytest.mark.parametrize("name", ["didgah", "../reference", "Reference"])
def test_unknown_profile_names_the_option(name: str) -> None:
    with pytest.raises(ConfigurationError, match="adapter.profile"):
        load_profile(name)


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.pop("ping"), r"\[ping\] is missing"),
    (lambda d: d["changes"]["kinds"].update(archived="archive"), "changes.kinds.archived"),
    (lambda d: d["deliver"]["steps"][0].update(retries=3), "unknown keys"),
    (lambda d: d["deliver"]["steps"][0]["outputs"].update(leter_id="letterId"), "leter_id"),
    (lambda d: d["find"]["steps"][0]["outputs"].pop("found"), "no step outputs"),
    (lambda d: d["changes"]["item"].pop("change_id"), "change_id"),
    (lambda d: d["deliver"]["steps"][0].pop("call"), "call"),
    (lambda d: d.update(extra=1), "not profile keys"),
    (lambda d: d["find"]["steps"][0]["args"].update(reference="{tracking_code"), "template"),
])
def test_profile_mistakes_are_named(change: Any, expected: str) -> None:
    data = copy.deepcopy(reference_data())
    change(data)
    with pytest.raises(ConfigurationError, match=expected):
        parse_profile(data, "reference")


# -- paths and templates --------------------------------------------------------------------

def test_resolve_dotted_paths() -> None:
    answer = {"found": True, "letter": SimpleNamespace(letterId=7, number=None),
              "changes": [{"changeId": 1}, {"changeId": 2}]}
    assert resolve(answer, "letter.letterId") == 7
    assert resolve(answer, "changes.1.changeId") == 2
    assert resolve(answer, "letter.number") is None
    assert resolve(answer, "letter.missing.deeper", "x") == "x"
    assert resolve(answer, "changes.5") is None
    assert resolve(answer, "") is answer


def test_render_keeps_types_and_leaves_out_none() -> None:
    ctx = {"code": "PK-1", "blob": b"%PDF-", "flag": None, "n": "42", "who": {"name": "مریم"},
           "files": [{"name": "a.pdf"}, {"name": "b.png"}]}
    assert render("{blob}", ctx) == b"%PDF-"
    assert render("{n|int}", ctx) == 42
    assert render("{code} / {who.name} / {flag}", ctx) == "PK-1 / مریم / "
    assert render({"a": "{code}", "b": "{flag}", "c": 5, "d": True}, ctx) == {
        "a": "PK-1", "c": 5, "d": True}
    files = {"for_each": "files", "template": {"fileName": "{item.name}", "of": "{code}"}}
    assert render(files, ctx) == [{"fileName": "a.pdf", "of": "PK-1"},
                                  {"fileName": "b.png", "of": "PK-1"}]
    assert render({**files, "wrap": "File"}, ctx) == {"File": render(files, ctx)}
    assert render({"for_each": "nothing", "template": {}}, ctx) is None


def test_multi_step_operation_chains_outputs() -> None:
    """The shape a legacy WCF dialect needs: insert, then one call per file, then an optional
    assignment, with credentials in the body."""
    operation = Operation(steps=(
        Step(call="InsertLetter", args={"user": "{username}", "title": "{subject}"},
             outputs={"letter_id": "Result.Id"}),
        Step(call="InsertLetterAttachment", for_each="attachments",
             args={"letterId": "{letter_id}", "fileName": "{item.name}"}),
        Step(call="InsertAssignment", when="unit_code",
             args={"letterId": "{letter_id}", "unit": "{unit_code}"}),
    ))
    calls: list[tuple[str, dict[str, Any]]] = []

    def call(step: Any, args: dict[str, Any]) -> Any:
        name = step.call
        calls.append((name, args))
        return {"Result": {"Id": 99}} if name == "InsertLetter" else None

    ctx = {"username": "u", "subject": "s", "unit_code": "", "attachments": [
        {"name": "a.pdf"}, {"name": "b.png"}]}
    out = run(operation, ctx, call)
    assert out["letter_id"] == 99
    assert calls == [("InsertLetter", {"user": "u", "title": "s"}),
                     ("InsertLetterAttachment", {"letterId": 99, "fileName": "a.pdf"}),
                     ("InsertLetterAttachment", {"letterId": 99, "fileName": "b.png"})]


# -- classification -------------------------------------------------------------------------

def _refused() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(
        None, "HTTPConnection(host='h', port=1): Failed to establish a new connection: refused")
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


@pytest.mark.parametrize("exc, effectful, posted, status, expected", [
    (_refused(), True, True, None, TransientError),
    (requests.exceptions.ConnectTimeout(), True, True, None, TransientError),
    (requests.exceptions.ReadTimeout(), True, True, None, AmbiguousError),
    (requests.exceptions.ReadTimeout(), False, True, None, TransientError),
    (requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.")), True, True, None,
     AmbiguousError),
    (zeep.exceptions.TransportError("x", status_code=503), True, True, 503, TransientError),
    # A proxy's 502/504 or a bare 500 may come after the letter went in.
    (zeep.exceptions.TransportError("x", status_code=504), True, True, 504, AmbiguousError),
    (zeep.exceptions.TransportError("x", status_code=502), True, True, 502, AmbiguousError),
    (zeep.exceptions.TransportError("x", status_code=500), True, True, 500, AmbiguousError),
    (zeep.exceptions.TransportError("x", status_code=504), False, True, 504, TransientError),
    (zeep.exceptions.TransportError("x", status_code=401), True, True, 401, ConfigurationError),
    (zeep.exceptions.TransportError("x", status_code=200), True, True, 200, AmbiguousError),
    # A server fault on a write may come after the commit (WCF): ambiguous; on a read, retry.
    (zeep.exceptions.Fault("Unavailable", code="soap:Server"), True, True, 500, AmbiguousError),
    (zeep.exceptions.Fault("Unavailable", code="soap:Server"), False, True, 500, TransientError),
    (zeep.exceptions.Fault("AuthenticationFailed", code="soap:Client"), False, True, 500,
     ConfigurationError),
    (zeep.exceptions.Fault("Denied", code="soap:Client"), False, True, 401, ConfigurationError),
    (zeep.exceptions.Fault("LetterNotFound", code="soap:Client"), False, True, 500,
     PermanentError),
    (TypeError("unexpected keyword argument 'register'"), True, False, None,
     ConfigurationError),
    (zeep.exceptions.XMLParseError("bad answer"), True, True, 200, AmbiguousError),
    (zeep.exceptions.XMLParseError("bad answer"), False, True, 200, PermanentError),
])
def test_classify(exc: BaseException, effectful: bool, posted: bool, status: int | None,
                  expected: type) -> None:
    err = classify(exc, action="Op", effectful=effectful, posted=posted, http_status=status)
    assert type(err) is expected, err


def test_classify_wsdl_loading_and_secrets() -> None:
    assert type(classify(_refused(), action="wsdl", loading_wsdl=True)) is TransientError
    assert type(classify(zeep.exceptions.XMLSyntaxError("no"), action="wsdl",
                         loading_wsdl=True)) is ConfigurationError
    err = classify(zeep.exceptions.Fault("bad token s3cret!", code="soap:Client"),
                   action="http://u:pw@oa/x", secrets=["s3cret!"])
    assert "s3cret!" not in err.detail and "pw@" not in err.detail


# -- multi-step delivery, status codes, Jalali dates -----------------------------------------

def _legacy_run(progress, fail_at: str | None = None, calls: list[str] | None = None):
    from adapters.soap.profile import run_resuming
    from connector.domain.errors import AmbiguousError
    profile = load_profile("legacy")
    calls = [] if calls is None else calls
    answers = {"InsertLetter": {"Err": {"ErrorCode": 0, "OutputId": 41}},
               "InsertLetterAttachment": {"Err": {"ErrorCode": 0, "OutputId": 7}},
               "GetLetterAttachments": {"Attachment": [{"fldName": "a.pdf", "fldSize": 3}]},
               "InsertAssignment": {"Err": {"ErrorCode": 0}},
               "InsertLetterNumber": {"fldNumber": "1403/9", "fldDate": "1403/07/15 10:00"}}

    def call(step, kwargs):
        name = step.call
        calls.append(name)
        if name == fail_at:
            raise AmbiguousError("no answer")
        return answers[name]

    context = {"tracking_code": "1234", "attachments": [
        {"name": "a.pdf", "size": 3, "content": b"abc", "content_type": "application/pdf"},
        {"name": "b.png", "size": 2, "content": b"ab", "content_type": "image/png"}],
        "unit_code": "IT", "register": True}
    return run_resuming(profile.operations["deliver"], context, call, progress)


def test_resuming_skips_finished_steps_and_looks_up_the_uncertain_one() -> None:
    from connector.domain.errors import AmbiguousError
    from connector.plugins.ports import MemoryProgress
    progress, calls = MemoryProgress(), []
    with pytest.raises(AmbiguousError):
        _legacy_run(progress, fail_at="InsertLetterAttachment", calls=calls)
    assert calls == ["InsertLetter", "InsertLetterAttachment"]
    assert list(progress.steps) == ["0.InsertLetter"]
    calls.clear()
    progress.uncertain = True
    out = _legacy_run(progress, calls=calls)
    # a.pdf is found by the look-up (not sent again); b.png is sent; the rest run once.
    assert calls == ["GetLetterAttachments", "InsertLetterAttachment", "InsertAssignment",
                     "InsertLetterNumber"]
    assert out["letter_id"] == 41 and out["number"] == "1403/9"
    calls.clear()
    assert _legacy_run(progress, calls=calls)["number"] == "1403/9" and calls == []


def test_status_codes_inside_answers() -> None:
    status = load_profile("legacy").status
    assert status is not None
    assert status.classify({"Err": {"ErrorCode": 0}})[0] == "ok"
    assert status.classify({"Err": {"ErrorCode": 6}})[0] == "ignore"
    assert status.classify({"Err": {"ErrorCode": 1, "ErrorMsg": "رمز"}}) == (
        "configuration", "1", "رمز")
    assert status.classify({"Err": {"ErrorCode": 99}})[0] == "permanent"


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.update(date_format="shamsi"), "date_format"),
    (lambda d: d["status"]["codes"].update({"9": "retry"}), "status.codes.9"),
    (lambda d: d["deliver"]["steps"][1]["reconcile"].pop("match"), "reconcile"),
    (lambda d: d["changes"].update(cursor="time"), "changes.cursor"),
    (lambda d: d["deliver"]["steps"][0]["outputs"].update(letter_id="x", other="y"), "other"),
])
def test_legacy_profile_mistakes_are_named(change, expected) -> None:
    import copy
    import tomllib

    from adapters.soap.profile import PROFILE_DIR, parse_profile
    data = copy.deepcopy(tomllib.loads((PROFILE_DIR / "legacy.toml").read_text("utf-8")))
    change(data)
    with pytest.raises(ConfigurationError, match=expected):
        parse_profile(data)


def test_jalali_dates_both_ways() -> None:
    from datetime import datetime

    from adapters.soap.dates import parse_jalali, to_jalali
    assert to_jalali(datetime(2024, 10, 6, 21, 0)) == "1403/07/16"  # after midnight in Tehran
    assert parse_jalali("۱۴۰۳/۰۷/۱۶ ۰۰:۳۰") == datetime(2024, 10, 6, 21, 0)
    assert parse_jalali("1403/13/01") is None and parse_jalali("tomorrow") is None


def test_the_admin_guide_names_every_profile_key_and_filter() -> None:
    """docs/adapters.md is how an admin configures an unseen system: each key and filter the
    profile accepts must be in it."""
    from adapters.soap import profile as p
    from adapters.soap.model import STATUS_CLASSES
    from adapters.soap.templates import FILTERS
    guide = (Path(__file__).resolve().parents[2] / "docs/adapters.md").read_text("utf-8")
    keys = (set(p._STEP_KEYS) | set(p._RECONCILE_KEYS) | set(p._SESSION_KEYS) | p._TOP_KEYS
            | {"absent", "statuses", "overlap_days", "sweep_every", "sweep_days", "cursor",
               "item", "kinds", "header_namespace", "wrap"})
    missing = sorted(k for k in keys if not re.search(rf"\b{k}\b", guide))
    assert not missing, missing
    assert not [f for f in FILTERS if f"`{f}" not in guide]
    assert not [c for c in STATUS_CLASSES if f"`{c}`" not in guide]
    from adapters.soap.options import SoapOptions
    assert not [o for o in SoapOptions.model_fields
                if not re.search(rf"^{o} = |\[adapter\.{o}", guide, re.M)]


def test_the_guides_complete_example_loads() -> None:
    from adapters.soap.checks import bind
    guide = (Path(__file__).resolve().parents[2] / "docs/adapters.md").read_text("utf-8")
    example = guide.split("## A complete example")[1]
    profile_text, org_text = [b.split("```")[0] for b in example.split("```toml")[1:3]]
    profile = parse_profile(tomllib.loads(profile_text), "our-oa")
    org = tomllib.loads(org_text)["adapter"]
    assert bind(profile, org["params"], org.get("maps"), {}).params == {
        "organ_id": 7, "letter_type": 2}
    assert profile.session is not None and not profile.operations.get("changes")
