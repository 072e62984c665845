"""Profile templates: placeholders, filters (base64, Jalali date-times, Gregorian, case,
default, value maps), the session token, and a session kept once for many threads."""
from __future__ import annotations

import threading
from datetime import date, datetime

import pytest

from adapters.soap.checks import Binding
from adapters.soap.runner import usable_id
from adapters.soap.session import SessionKeeper
from adapters.soap.templates import (
    SESSION_TOKEN,
    TemplateError,
    parse_placeholder,
    put_session,
    render,
)
from connector.domain.errors import ConfigurationError

MAPS = Binding(params={}, maps={"sender": {"natural": 1, "legal": 2},
                                "unit": {"CIV": "12", "*": "99"}}, secrets=())
# 10:00 UTC on 29 Nov 2026 is 13:30 in Tehran, 1405/09/08.
WHEN = datetime(2026, 11, 29, 10, 0)


@pytest.mark.parametrize("template, expected", [
    ("{when|jalali}", "1405/09/08"),
    ("{when|jalali(date)}", "1405/09/08"),
    ("{when|jalali(datetime)}", "1405/09/08 13:30"),
    ("{when|jalali(datetime-seconds)}", "1405/09/08 13:30:00"),
    ("{when|jalali(%Y-%m-%d)}", "1405-09-08"),
    ("{day|jalali}", "1405/09/08"),
    ("{when|gregorian}", "2026-11-29"),
    ("{when|gregorian(datetime)}", "2026-11-29T13:30:00"),
    ("{blob|base64}", "JVBERi0="),
    ("{name|upper}", "ABC"),
    ("{shout|lower}", "abc"),
    ("{missing|default(2)}", 2),
    ("{missing|default(none given)}", "none given"),
    ("{empty|default(x)|upper}", "X"),
    ("{kind|map(sender)}", 2),
    ("{unit|map(unit)}", "12"),
    ("{other|map(unit)}", "99"),
    ("{digits|latin_digits|int}", 1405),
    ("{missing|base64}", None),
    ("از {when|jalali(datetime)} تا {name}", "از 1405/09/08 13:30 تا abc"),
    ("{{literal}} {name}", "{literal} abc"),
])
def test_filters(template: str, expected: object) -> None:
    ctx = {"when": WHEN, "day": date(2026, 11, 29), "blob": b"%PDF-", "name": "abc",
           "shout": "ABC", "empty": "", "kind": "legal", "unit": "CIV", "other": "FIN",
           "digits": "۱۴۰۵"}
    assert render(template, ctx, MAPS.lookup) == expected


def test_a_value_missing_from_a_map_is_an_error_naming_the_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"no entry for 'robot'.*adapter\.maps\.sender"):
        render("{kind|map(sender)}", {"kind": "robot"}, MAPS.lookup)


@pytest.mark.parametrize("text, problem", [
    ("tracking code", "is not a placeholder"),
    ("when|jalaly", "unknown filter 'jalaly'"),
    ("when|map", "needs an argument"),
    ("when|upper(x)", "takes no argument"),
])
def test_placeholder_mistakes(text: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem):
        parse_placeholder(text)


def test_the_session_is_a_token_until_the_call() -> None:
    args = render({"Ticket": "{session}", "Auth": "Bearer {session}", "n": "{n}"}, {"n": 1})
    assert args == {"Ticket": SESSION_TOKEN, "Auth": f"Bearer {SESSION_TOKEN}", "n": 1}
    assert put_session(args, "t-1") == {"Ticket": "t-1", "Auth": "Bearer t-1", "n": 1}


@pytest.mark.parametrize("value, usable", [
    (None, False), ("", False), ("0", False), (0, False), ("-1", False), (-5, False),
    ("None", False), ("42", True), (42, True), ("1405/12", True),
])
def test_usable_ids(value: object, usable: bool) -> None:
    assert usable_id(value) is usable


def test_one_login_for_many_threads_and_one_renewal() -> None:
    issued: list[str] = []
    lock = threading.Lock()

    def login() -> str:
        with lock:
            issued.append(f"t{len(issued) + 1}")
            return issued[-1]

    keeper = SessionKeeper(login)
    barrier = threading.Barrier(32)
    seen: list[str] = []

    def worker() -> None:
        barrier.wait()
        ticket = keeper.ticket()
        keeper.expire("t1")  # every thread was told t1 expired; one renewal follows
        seen.append(keeper.ticket())
        seen.append(ticket)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert issued == ["t1", "t2"]
    assert set(seen) == {"t1", "t2"} and keeper.seen() == ["t1", "t2"]


def test_a_ticket_older_than_its_lifetime_is_renewed() -> None:
    now = [0.0]
    count = iter(range(1, 100))
    keeper = SessionKeeper(lambda: f"t{next(count)}", lifetime_seconds=60,
                           clock=lambda: now[0])
    assert keeper.ticket() == "t1"
    now[0] = 59
    assert keeper.ticket() == "t1"
    now[0] = 61
    assert keeper.ticket() == "t2" and keeper.logins == 2


def test_success_without_a_usable_id_is_not_a_receipt() -> None:
    """A "duplicate" answer marked ignore, or an insert that says ok with id 0: the letter may
    exist, so it is looked up rather than taken as delivered as letter 0."""
    from adapters.soap.model import Operation, Step
    from adapters.soap.runner import run
    from connector.domain.errors import AmbiguousError
    op = Operation(steps=(Step(call="AddLetter", outputs={"letter_id": "LetterId"}),))
    for answer in ({"LetterId": 0}, {"LetterId": None}, {}):
        with pytest.raises(AmbiguousError, match="no usable letter id"):
            run(op, {}, lambda step, kwargs, a=answer: a, strict_ids=True)
    assert run(op, {}, lambda step, kwargs: {"LetterId": 7}, strict_ids=True)["letter_id"] == 7


def test_a_fault_listed_in_relogin_faults_logs_in_again_once() -> None:
    """The vendor side is a stand-in service object answering like zeep's proxy would."""
    import zeep.exceptions

    from adapters.soap.calls import Caller
    from adapters.soap.model import Operation, Profile, Session, Step
    from adapters.soap.transport import RecordingTransport

    tickets = iter(["t1", "t2", "t3"])
    refused = {"t1"}

    class Service:
        def __getitem__(self, name):
            def call(**kwargs):
                if name == "Login":
                    return {"Ticket": next(tickets)}
                if kwargs["Ticket"] in refused:
                    raise zeep.exceptions.Fault("Session has expired", code="s:Client")
                return {"ok": kwargs["Ticket"]}
            return call

    op = Operation(steps=(Step(call="Ping", args={"Ticket": "{session}"}),))
    profile = Profile(name="p", description="", operations={"ping": op},
                      session=Session(call="Login", args={}, ticket="Ticket",
                                      relogin_faults=("session has expired",)))
    transport = RecordingTransport()
    caller = Caller(profile, lambda: (Service(), transport), dict, list, lambda n, v: v)
    step = op.steps[0]
    assert caller.call(step, {"Ticket": SESSION_TOKEN}, False) == {"ok": "t2"}
    assert caller.session.logins == 2
    refused.add("t2")
    refused.add("t3")
    from connector.domain.errors import TransientError
    with pytest.raises(TransientError, match="fresh session ticket too"):
        caller.call(step, {"Ticket": SESSION_TOKEN}, False)


def test_a_write_fault_is_ambiguous_unless_the_step_is_idempotent() -> None:
    import zeep.exceptions

    from adapters.soap.calls import Caller
    from adapters.soap.model import Operation, Profile, Step
    from adapters.soap.transport import RecordingTransport
    from connector.domain.errors import AmbiguousError, TransientError

    class Service:  # stands in for the vendor: it committed, then raised a WCF server fault
        def __getitem__(self, name):
            def call(**kwargs):
                raise zeep.exceptions.Fault("InternalServiceFault", code="s:Server")
            return call

    transport = RecordingTransport()
    write, setter = Step(call="AddLetter"), Step(call="SetUnit", idempotent=True)
    profile = Profile(name="p", description="",
                      operations={"deliver": Operation(steps=(write, setter))})
    caller = Caller(profile, lambda: (Service(), transport), dict, list, lambda n, v: v)
    with pytest.raises(AmbiguousError):
        caller.call(write, {}, True)
    with pytest.raises(TransientError) as err:
        caller.call(setter, {}, True)
    assert not isinstance(err.value, AmbiguousError)
    with pytest.raises(TransientError) as err:
        caller.call(write, {}, False)  # the same fault on a read: retry
    assert not isinstance(err.value, AmbiguousError)


def test_secret_parameters_come_from_the_environment_and_are_masked() -> None:
    import dataclasses

    from adapters.soap.checks import bind
    from adapters.soap.model import Param
    from adapters.soap.profile import load_profile
    profile = load_profile("session")
    profile = dataclasses.replace(profile, params={**profile.params,
                                                   "api_key": Param(type="secret")})
    with pytest.raises(ConfigurationError, match=r"api_key_env = \"ENV_VARIABLE\""):
        bind(profile, {}, {}, {})
    with pytest.raises(ConfigurationError, match="OA_KEY, which is not set"):
        bind(profile, {"api_key_env": "OA_KEY"}, {}, {})
    bound = bind(profile, {"api_key_env": "OA_KEY"}, {}, {"OA_KEY": "k-123"})
    assert bound.params["api_key"] == "k-123" and bound.secrets == ("k-123",)
    assert bound.params["organ_id"] == 1  # the profile's default


def test_answer_paths_as_exchange_shows_them_even_when_zeep_unwraps() -> None:
    from adapters.soap.templates import resolve_answer
    # LoginResponse{LoginResult: "abc"} comes back from zeep as "abc".
    assert resolve_answer("abc", "LoginResult") == "abc"
    # LoginResponse{LoginResult{Code, Ticket}} comes back as {Code, Ticket}.
    assert resolve_answer({"Code": 0, "Ticket": "t"}, "LoginResult.Ticket") == "t"
    # Several children: nothing is unwrapped, the path is read as written.
    both = {"Result": {"Code": 3}, "LetterId": None}
    assert resolve_answer(both, "Result.Code") == 3
    assert resolve_answer(both, "LetterId") is None
    assert resolve_answer(both, "Letter.0.Id") is None
    assert resolve_answer({"letter": None, "number": "x"}, "letter.number") is None


def test_result_codes_booleans_and_case() -> None:
    from adapters.soap.model import StatusCodes
    status = StatusCodes(path="IsSuccess", codes={"true": "ok", "false": "permanent"})
    assert status.classify({"IsSuccess": True})[0] == "ok"
    assert status.classify({"IsSuccess": False})[:2] == ("permanent", "false")
    words = StatusCodes(path="Status", codes={"OK": "ok", "Duplicate": "already-exists"},
                        default="transient")
    assert words.classify({"Status": "ok"})[0] == "ok"
    assert words.classify({"Status": "DUPLICATE"})[0] == "already-exists"
    assert words.classify({"Status": "busy"})[0] == "transient"
    assert words.classify({"Status": "Duplicate"}, {"Duplicate": "ignore"})[0] == "ignore"


def test_a_path_inside_the_operations_result_beside_out_parameters() -> None:
    from adapters.soap.templates import resolve_answer
    answer = {"InsertLetterResult": {"Code": 5, "LetterId": 9}, "Err": {"ErrorCode": 0}}
    assert resolve_answer(answer, "Code") == 5
    assert resolve_answer(answer, "InsertLetterResult.LetterId") == 9
    assert resolve_answer(answer, "Err.ErrorCode") == 0
    assert resolve_answer(answer, "Missing") is None


def test_draft_of_a_wcf_shape_nested_request_and_per_operation_results() -> None:
    import tomllib

    from adapters.soap.draft import Field, Op, draft
    ops = [Op("Login", [Field("request.UserName", "string"),
                        Field("request.Password", "string")],
              [Field("LoginResult.Ticket", "string"), Field("LoginResult.Code", "int"),
               Field("LoginResult.Message", "string")]),
           Op("InsertLetter", [Field("ticket", "string"), Field("request.Subject", "string"),
                               Field("request.OrganId", "int"),
                               Field("request.Files.Name", "string", many=True)],
              [Field("InsertLetterResult.Code", "int"),
               Field("InsertLetterResult.LetterId", "long")])]
    text = draft("file:///x.wsdl", ops, "OfficeService")
    data = tomllib.loads(text)
    assert data["session"]["args"] == {"request": {"UserName": "{username}",
                                                   "Password": "{password}"}}
    assert data["session"]["ticket"] == "LoginResult.Ticket"
    assert (data["status"]["path"], data["status"]["message"]) == ("Code", "Message")
    assert data["params"] == {"organ_id": {"type": "int"}}
    block = text.split("# === InsertLetter")[1].split("\n")[3:]
    step = tomllib.loads("\n".join(line[2:] for line in block if line.startswith("# ")
                                   and "…" not in line and not line.startswith("# ?")))
    assert step["deliver"]["steps"][0]["args"] == {
        "ticket": "{session}", "request": {"Subject": "{subject}",
                                           "OrganId": "{params.organ_id}"}}
    assert "repeated: request.Files = { for_each" in text


def test_already_exists_is_done_only_if_the_look_up_finds_ours() -> None:
    """A system that refuses a second file of one name answers "already exists": that is ours
    from an earlier try only if its look-up shows the same name and size; else it is someone
    else's file, and taking it for ours would drop ours silently."""
    from adapters.soap.model import Operation, Reconcile, Step
    from adapters.soap.runner import AlreadyExists, run
    from connector.domain.errors import PermanentError
    look = Reconcile(call="ListAttachments", list="Attachment",
                     match={"FileName": "{item.name}", "FileSize": "{item.size}"})
    op = Operation(steps=(Step(call="AddAttachment", for_each="attachments", reconcile=look),))
    held = {"Attachment": [{"FileName": "scan.pdf", "FileSize": 50}]}

    def call(step, kwargs):
        if step.call == "ListAttachments":
            return held
        raise AlreadyExists({"Code": 6})

    ours = {"attachments": [{"name": "scan.pdf", "size": 50}]}
    assert run(op, ours, call)  # the look-up finds it: done
    other = {"attachments": [{"name": "scan.pdf", "size": 82}]}
    with pytest.raises(PermanentError, match="does not find ours"):
        run(op, other, call)
