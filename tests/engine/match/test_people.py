"""engine/match/people.py, match_run.py and match_report.py: the data-matching exercise.

ParentPay is seeded with records "from a previous MIS" (other IDs) and matched against the
fixture school served by the real Bromcom simulator; --apply goes to the real ParentPay
simulator, and a following `run_school` must update the matched accounts, never duplicate them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from engine.commands.match import run_match
from engine.commands.run import run_school
from engine.config.school import load_school
from engine.match.people import Entry, match_people, name_key, order_rekeys
from engine.match.result import MatchResult
from engine.pipeline import Options
from engine.records import RECORD_FIELDS
from engine.report.match import render_match_summary
from engine.targets import TARGETS
from tests.conftest import SITE_ID, Stack


def person(
    mis_id: str, type_: str = "pupil", status: str = "active", **fields: Any
) -> dict[str, Any]:
    """A whole ParentPay record: the given fields, the rest null (fsm false, no dietary needs)."""
    full: dict[str, Any] = dict.fromkeys(RECORD_FIELDS[type_])
    if type_ != "staff":
        full |= {"fsm": False, "dietary": []}
    return {"mis_id": mis_id, "type": type_, "status": status, "fields": full | fields}


# What an older MIS left in ParentPay: its own IDs, names as it spelt them.
def pupil(
    mis_id: str, forename: str, surname: str, dob: str, year: str, **more: Any
) -> dict[str, Any]:
    return person(mis_id, forename=forename, surname=surname, dob=dob, year_code=year, **more)


def staff(mis_id: str, title: str, forename: str, surname: str, email: str) -> dict[str, Any]:
    return person(mis_id, "staff", title=title, forename=forename, surname=surname, email=email)


# What an older MIS left in ParentPay: its own IDs, names as it spelt them, last year's years.
OLD_MIS = [
    pupil("A101", "Alex", "Whitfield", "2018-01-15", "3", upn="J383200122011"),
    # The hyphen lost; the accent typed as a combining mark and a curly apostrophe.
    pupil("A102", "Lily Mae", "HUGHES", "2019-12-24", "1"),
    pupil("A103", "Ciara\u0301n", "O\u2019Brien", "2016-11-20", "4"),
    pupil("A105", "Ella", "Smith", "2019-03-03", "2"),  # a twin: which one?
    pupil("A106", "Sian", "O'Brien", "2019-06-02", "2"),  # the accent dropped
    pupil("A107", "Harvey", "Thompson", "2015-04-12", "5", status="archived"),  # left
    pupil("1011", "Evie", "Davies", "2022-08-31", "N2"),  # already under the Bromcom ID
    person(
        "P1",
        "preadmission",
        upn="R383211726301",
        forename="Freya",
        surname="Morgan",
        dob="2023-03-15",
    ),
    staff("S1", "Mrs", "Sarah", "Bennett", "S.Bennett@oakfield.example.org"),
    staff("S2", "Mr", "Dafydd", "Llewellyn", "d.llewellyn@oakfield.example.org"),
]
CONFIRMED = {
    "A101": "1001",
    "A102": "1009",
    "A103": "1003",
    "P1": "3001",
    "S1": "2001",
    "S2": "2002",
}


def add_twins(stack: Stack) -> None:
    """Bromcom pupils 1013 Isabella "Ella" Smith and 1014 Ella Smith, born the same day."""
    students = stack.entity("Students")
    base = next(r for r in students["rows"] if r["StudentID"] == 1002)
    for sid, first, preferred, upn in (
        (1013, "Isabella", "Ella", "K383200123013"),
        (1014, "Ella", None, "K383200123014"),
    ):
        students["rows"].append(
            base | {"StudentID": sid, "PersonID": sid, "UPN": upn, "AdmissionNumber": str(sid), "FirstName": first,
                    "MiddleName": None, "PreferredFirstName": preferred, "LastName": "Smith", "DateOfBirth": "2019-03-03"}
        )  # fmt: skip
    stack.save_entity("Students", students)


def match(stack: Stack, *, apply: bool = False, **options: Any) -> MatchResult:
    school = load_school(stack.school_file)
    return run_match(
        school, Options(state_dir=stack.state_dir, out_dir=stack.plans, **options), apply=apply
    )


def pairs(result: MatchResult, kind: str) -> dict[str, str | None]:
    return {e.old_id or "": e.new_id for e in result.entries if e.kind == kind}


@pytest.fixture
def seeded(stack: Stack) -> Stack:
    add_twins(stack)
    stack.parentpay.seed(SITE_ID, OLD_MIS)
    return stack


def test_matches_by_upn_then_name_and_dob_and_staff_by_name_or_email(
    seeded: Stack, raw: SnapshotAssertion
) -> None:
    result = match(seeded)

    assert pairs(result, "certain") == {"A101": "1001", "P1": "3001", "S1": "2001"}
    assert pairs(result, "probable") == {"A102": "1009", "A103": "1003", "S2": "2002"}
    assert pairs(result, "already_keyed") == {"1011": "1011"}
    ambiguous = {
        e.old_id: [b["mis_id"] for b in e.bromcom] for e in result.entries if e.kind == "ambiguous"
    }
    assert ambiguous == {"A105": ["1013", "1014"], "A106": ["1002"]}
    assert pairs(result, "only_parentpay") == {"A107": None}
    only_bromcom = sorted(e.new_id or "" for e in result.entries if e.kind == "only_bromcom")
    assert only_bromcom == ["1007", "1008", "1010", "1012", "3003"]
    assert result.exit_code == 3  # the twins and Siân need a person
    assert "held back by a check" in result.files.markdown.read_text(
        encoding="utf-8"
    )  # 1007's year code

    report = json.loads(result.files.json.read_text(encoding="utf-8"))
    assert report["summary"]["certain"] == {"pupil": 1, "staff": 1, "preadmission": 1}
    assert not any(
        "fsm" in p or "dietary" in p
        for e in report["entries"]
        for p in e["parentpay"] + e["bromcom"]
    )
    assert result.files.markdown.read_text(encoding="utf-8") == raw
    # Nothing was sent: match without --apply only reads ParentPay.
    assert not [r for r in seeded.parentpay.requests if r.method == "POST"]


def test_apply_rekeys_exactly_the_confirmed_and_the_next_run_updates_them(seeded: Stack) -> None:
    accounts = {old: seeded.parentpay.account_id(SITE_ID, old) for old in CONFIRMED}

    result = match(seeded, apply=True)

    assert {e.old_id: e.outcome for e in result.rekeys} == dict.fromkeys(CONFIRMED, "applied")
    assert result.adopted == 1  # 1011, already under its Bromcom ID
    held = {p["mis_id"] for p in seeded.parentpay.people(SITE_ID, status="all")}
    assert held == {*CONFIRMED.values(), "A105", "A106", "A107", "1011"}
    for old, new in CONFIRMED.items():
        assert seeded.parentpay.account_id(SITE_ID, new) == accounts[old]

    run = run_school(load_school(seeded.school_file), Options(state_dir=seeded.state_dir))
    changes = run.plan.data["changes"]
    created = {c["mis_id"] for c in changes if c["op"] == "create"}
    # The matched and the already keyed are updated; only people ParentPay never held are
    # created. The undecided twins and Siân wait for a decision: creating them could make a
    # second account. Nothing is archived.
    assert created == {"1008", "1010", "1012", "3003"}
    [waiting] = [c for c in run.plan.data["checks"] if c["name"] == "awaiting_data_matching"]
    assert (waiting["severity"], waiting["records"]) == ("error", ["1002", "1013", "1014"])
    assert not created & {*CONFIRMED.values(), "1011"}
    assert {c["mis_id"] for c in changes if c["op"] == "update"} >= {
        "1001",
        "1009",
        "1003",
        "1011",
        "2002",
    }
    assert not [c for c in changes if c["op"] == "archive"]
    assert run.rejected == [] and run.exit_code == 3  # held back for the match: not done yet
    after = {p["mis_id"]: p for p in seeded.parentpay.people(SITE_ID, status="all")}
    assert (
        after["1001"]["fields"]["year_code"] == "4"
        and after["1009"]["fields"]["forename"] == "Lily-Mae"
    )
    assert after["2002"]["fields"]["forename"] == "Dai"
    assert seeded.parentpay.account_id(SITE_ID, "1001") == accounts["A101"]


def test_a_run_after_a_match_not_yet_applied_creates_no_second_account(seeded: Stack) -> None:
    # The report is being reviewed; somebody runs the school meanwhile. The matched people
    # must not get new accounts beside their old ones.
    run_match(
        load_school(seeded.school_file), Options(state_dir=seeded.state_dir, out_dir=seeded.plans)
    )
    run = run_school(load_school(seeded.school_file), Options(state_dir=seeded.state_dir))
    created = {c["mis_id"] for c in run.plan.data["changes"] if c["op"] == "create"}
    assert not created & {*CONFIRMED.values(), "1002", "1013", "1014"}
    waiting = {
        m
        for c in run.plan.data["checks"]
        if c["name"] == "awaiting_data_matching"
        for m in c["records"]
    }
    assert set(CONFIRMED.values()) <= waiting

    # Once applied, a new match releases the re-keyed people.
    run_match(
        load_school(seeded.school_file),
        Options(state_dir=seeded.state_dir, out_dir=seeded.plans),
        apply=True,
    )
    again = run_school(load_school(seeded.school_file), Options(state_dir=seeded.state_dir))
    waiting = {
        m
        for c in again.plan.data["checks"]
        if c["name"] == "awaiting_data_matching"
        for m in c["records"]
    }
    assert waiting == {"1002", "1013", "1014"}


def test_a_rekey_onto_an_id_taken_meanwhile_is_reported(seeded: Stack) -> None:
    class Racing:
        """ParentPay, where somebody creates record 1001 between the match and the push."""

        def __init__(self) -> None:
            self.client = TARGETS["parentpay"]()

        def people(
            self, site_id: int, type: str | None = None, status: str = "all"
        ) -> list[dict[str, Any]]:
            return self.client.people(site_id, type, status)

        def push(self, site_id: int, operations: Any, key_prefix: str, on_batch: Any = None) -> Any:
            seeded.parentpay.seed(
                SITE_ID, [person("1001", forename="Alex", surname="Whitfield", dob="2018-01-15")]
            )
            return self.client.push(site_id, operations, key_prefix, on_batch)

        def close(self) -> None:
            self.client.close()

    result = match(seeded, apply=True, target_factory=Racing)

    [refused] = result.rejected
    assert refused.old_id == "A101" and refused.outcome.startswith("rejected (exists)")
    assert result.exit_code == 3
    assert "rejected (exists)" in result.files.markdown.read_text(encoding="utf-8")


def test_apply_is_refused_when_bromsync_already_uploaded_the_ids(stack: Stack) -> None:
    run_school(load_school(stack.school_file), Options(state_dir=stack.state_dir))
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(
        text.replace("legitimate_interest}", 'legitimate_interest, staff_id_prefix: "3"}')
    )
    posts = len([r for r in stack.parentpay.requests if r.method == "POST"])

    result = match(stack, apply=True)

    assert pairs(result, "certain") == {"2001": "32001", "2002": "32002"}
    assert result.refused is not None and "already uploaded 2 of the IDs" in result.refused
    assert "2001 (staff Sarah Bennett)" in result.refused and "staff_id_prefix" in result.refused
    assert result.exit_code == 3
    assert result.refused in render_match_summary(result)
    assert len([r for r in stack.parentpay.requests if r.method == "POST"]) == posts
    assert {p["mis_id"] for p in stack.parentpay.people(SITE_ID, type="staff")} == {"2001", "2002"}


def test_an_id_used_for_someone_else_is_a_conflict_not_already_keyed(stack: Stack) -> None:
    stack.parentpay.seed(
        SITE_ID, [person("1008", forename="Zara", surname="Brown", dob="2012-05-05")]
    )

    result = match(stack)

    [conflict] = [e for e in result.entries if e.kind == "conflict"]
    assert (
        conflict.new_id == "1008"
        and conflict.holder is not None
        and conflict.holder["mis_id"] == "1008"
    )
    assert pairs(result, "only_parentpay") == {"1008": None}
    assert result.exit_code == 3


# -- the pure matcher --------------------------------------------------------------------------


def test_name_keys_ignore_case_spaces_hyphens_and_apostrophes_but_keep_accents() -> None:
    assert name_key("Smith-Jones") == name_key("smith jones") == name_key("SMITHJONES")
    assert name_key("O'Brien") == name_key("O\u2019Brien") == name_key("obrien")
    assert name_key("Sia\u0302n") == name_key("SIÂN") != name_key("Sian")


def _pupil(
    mis_id: str, name: str, dob: str, upn: str | None = None, status: str | None = "active"
) -> dict[str, Any]:
    forename, surname = name.split()
    record = person(mis_id, forename=forename, surname=surname, legal_forename=forename, legal_surname=surname,
                    dob=dob, upn=upn)  # fmt: skip
    if status is None:
        del record["status"]
    return record


def test_a_swap_of_ids_is_a_conflict_and_a_chain_is_ordered() -> None:
    parentpay = [
        _pupil("1", "Ann Lee", "2015-01-01", "U1"),
        _pupil("2", "Bob Lee", "2016-01-01", "U2"),
    ]
    bromcom = [
        _pupil("2", "Ann Lee", "2015-01-01", "U1", None),
        _pupil("1", "Bob Lee", "2016-01-01", "U2", None),
    ]
    entries = match_people(parentpay, bromcom, {"pupil"})
    assert sorted((e.kind, e.old_id, e.new_id) for e in entries if e.old_id) == [
        ("conflict", "1", "2"),
        ("conflict", "2", "1"),
    ]

    # 1 -> 2 must wait until 2 has moved to 3.
    chain = [Entry("certain", "pupil", (_pupil("1", "Ann Lee", "2015-01-01"),), (_pupil("2", "Ann Lee", "2015-01-01", None, None),), ""),
             Entry("certain", "pupil", (_pupil("2", "Bob Lee", "2016-01-01"),), (_pupil("3", "Bob Lee", "2016-01-01", None, None),), "")]  # fmt: skip
    ordered, stuck = order_rekeys(chain, {"1": {}, "2": {}})
    assert [e.old_id for e in ordered] == ["2", "1"] and stuck == []


def test_same_name_and_dob_with_different_upns_is_ambiguous() -> None:
    entries = match_people(
        [_pupil("X1", "Ann Lee", "2015-01-01", "U1")],
        [_pupil("7", "Ann Lee", "2015-01-01", "U9", None)],
        {"pupil"},
    )
    assert [(e.kind, e.reason) for e in entries if e.old_id] == [
        ("ambiguous", "same name and date of birth but different UPNs")
    ]
