"""engine/match/near.py and the possible matches of the data-matching exercise.

The pure rules table-driven; then end to end: ParentPay holds near misses under an older MIS's
IDs, `bromsync match` lists them for a person to decide, and the next run holds the Bromcom
records back instead of creating a second account beside each old one.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from engine.commands.match import run_match
from engine.commands.run import run_school
from engine.config.school import load_school
from engine.match.near import (
    NearIndex,
    common_variants,
    find_near,
    forename_groups,
    near_reasons,
    one_edit_apart,
)
from engine.match.people import DECIDE_KINDS, match_people
from engine.pipeline import Options
from engine.records import RECORD_FIELDS
from tests.conftest import SITE_ID, Stack


def person(
    mis_id: str, type_: str = "pupil", status: str | None = "active", **fields: Any
) -> dict[str, Any]:
    """A whole record: the given fields, the rest null; no status for a Bromcom one."""
    full: dict[str, Any] = dict.fromkeys(RECORD_FIELDS[type_])
    if type_ != "staff":
        full |= {"fsm": False, "dietary": []}
    record = {"mis_id": mis_id, "type": type_, "fields": full | fields}
    if status is not None:
        record["status"] = status
    return record


def kid(name: str, dob: str | None, type_: str = "pupil", **more: Any) -> dict[str, Any]:
    forename, surname = name.split(" ", 1)
    return person("x", type_, forename=forename, surname=surname, dob=dob, **more)


def adult(name: str, **more: Any) -> dict[str, Any]:
    forename, surname = name.split(" ", 1)
    return person("x", "staff", forename=forename, surname=surname, **more)


# (what, Bromcom, ParentPay, the reasons)
NEAR = [
    ("nickname", kid("William Roberts", "2018-03-04"), kid("Will Roberts", "2018-03-04"),
     ["forename William / Will (a common variant)"]),
    ("nickname of the legal forename", kid("Alex Whitfield", "2018-01-15", legal_forename="Alexander"),
     kid("Sandy Whitfield", "2018-01-15"), ["forename Alex / Sandy (a common variant)"]),
    ("Welsh variant", kid("Dafydd Pritchard", "2017-05-10"), kid("Dai Pritchard", "2017-05-10"),
     ["forename Dafydd / Dai (a common variant)"]),
    ("Irish variant, accents and case aside", kid("SIOBHÁN Murphy", "2016-02-01"),
     kid("joan Murphy", "2016-02-01"), ["forename SIOBHÁN / joan (a common variant)"]),
    ("accents only, and a day out", kid("Siân Evans", "2019-06-02"), kid("Sian Evans", "2019-06-03"),
     ["forename Siân / Sian (only the accents differ)",
      "date of birth 2019-06-02 / 2019-06-03 (a day apart)"]),
    ("one-letter surname typo", kid("Ella Smith", "2019-03-03"), kid("Ella Smyth", "2019-03-03"),
     ["surname Smith / Smyth (one letter apart)"]),
    ("a letter dropped", kid("Noah Bennett", "2021-10-30"), kid("Noah Benett", "2021-10-30"),
     ["surname Bennett / Benett (one letter apart)"]),
    ("two letters transposed", kid("Noah Evans", "2021-10-30"), kid("Noah Evnas", "2021-10-30"),
     ["surname Evans / Evnas (one letter apart)"]),
    ("swapped surname words", kid("Cara Jones Evans", "2015-09-01"), kid("Cara Evans-Jones", "2015-09-01"),
     ["surname words swapped (Jones Evans / Evans-Jones)"]),
    ("date of birth a day out", kid("Tom Lewis", "2018-03-04"), kid("Tom Lewis", "2018-03-05"),
     ["date of birth 2018-03-04 / 2018-03-05 (a day apart)"]),
    ("a day out across a year", kid("Tom Lewis", "2017-12-31"), kid("Tom Lewis", "2018-01-01"),
     ["date of birth 2017-12-31 / 2018-01-01 (a day apart)"]),
    ("day and month swapped", kid("Tom Lewis", "2018-04-03"), kid("Tom Lewis", "2018-03-04"),
     ["date of birth day and month swapped (2018-04-03 / 2018-03-04)"]),
    ("all three near", kid("William Smith", "2018-03-04"), kid("Bill Smyth", "2018-03-05"),
     ["forename William / Bill (a common variant)", "surname Smith / Smyth (one letter apart)",
      "date of birth 2018-03-04 / 2018-03-05 (a day apart)"]),
    ("a pre-admission since started", kid("Freya Morgan", "2023-03-15"),
     kid("Freya Morgen", "2023-03-15", "preadmission"), ["surname Morgan / Morgen (one letter apart)"]),
    ("one UPN unknown", kid("Tom Lewis", "2018-03-04", upn="A1"), kid("Tommy Lewis", "2018-03-04"),
     ["forename Tom / Tommy (a common variant)"]),
    ("staff nickname", adult("Robert Hughes"), adult("Bob Hughes"),
     ["forename Robert / Bob (a common variant)"]),
    ("staff typo, e-mails differ", adult("Priya Patel", email="p.patel@a.example"),
     adult("Priya Patell", email="priya@b.example"), ["surname Patel / Patell (one letter apart)"]),
]  # fmt: skip

NOT_NEAR = [
    ("different person", kid("Tom Harris", "2018-03-04"), kid("Sarah Harris", "2018-03-04")),
    ("date of birth a week out", kid("Tom Lewis", "2018-03-04"), kid("Tom Lewis", "2018-03-11")),
    ("nickname and a week out", kid("Will Lewis", "2018-03-04"), kid("William Lewis", "2018-03-11")),
    ("staff and pupil", adult("Tom Lewis"), kid("Tommy Lewis", "2018-03-04")),
    ("surname two edits apart", kid("Ella Smith", "2019-03-03"), kid("Ella Smythe", "2019-03-03")),
    ("short surnames", kid("Ella Ng", "2019-03-03"), kid("Ella Ny", "2019-03-03")),
    ("forename one letter apart, not a variant", kid("Jake Hill", "2019-03-03"), kid("Jane Hill", "2019-03-04")),
    ("only sharing a short form", kid("Samuel Hill", "2019-03-03"), kid("Samantha Hill", "2019-03-03")),
    ("no date of birth", kid("Will Lewis", None), kid("William Lewis", "2018-03-04")),
    ("UPNs differ", kid("Will Lewis", "2018-03-04", upn="A1"), kid("William Lewis", "2018-03-04", upn="B2")),
    # Exact matches are engine/match/people.py's: never near.
    ("same name and date of birth", kid("Tom Lewis", "2018-03-04"), kid("TOM LEWIS", "2018-03-04")),
    ("same UPN", kid("Will Lewis", "2018-03-04", upn="A1"), kid("Bill Lewis", "2018-03-05", upn="a1")),
    ("same legal name", kid("Alex Whitfield", "2018-01-15", legal_forename="Alexander"),
     kid("Alexander Whitfield", "2018-01-15")),
    ("staff, same name", adult("Tom Lewis"), adult("Tom Lewis")),
    ("staff, same e-mail and surname", adult("Tom Lewis", email="t@a.example"),
     adult("Thomas Lewis", email="T@a.example")),
    ("staff, nothing alike", adult("Tom Lewis"), adult("Tom Griffiths")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("bromcom", "parentpay", "reasons"), [c[1:] for c in NEAR], ids=[c[0] for c in NEAR]
)
def test_near_misses_say_why(bromcom: Any, parentpay: Any, reasons: list[str]) -> None:  # fmt: skip
    assert near_reasons(bromcom, parentpay) == reasons


@pytest.mark.parametrize(
    ("bromcom", "parentpay"), [c[1:] for c in NOT_NEAR], ids=[c[0] for c in NOT_NEAR]
)
def test_not_near(bromcom: Any, parentpay: Any) -> None:  # fmt: skip
    assert near_reasons(bromcom, parentpay) == []
    assert near_reasons(parentpay, bromcom) == []


def test_the_shipped_forename_list() -> None:
    assert len(set().union(*forename_groups().values())) >= 150  # groups
    assert common_variants("Seán", "JOHN") and common_variants("Mairéad", "peggy")
    assert common_variants("Liam", "Bill") and common_variants("Dave", "Dafydd")
    assert not common_variants("Samuel", "Samantha")  # they share only Sam
    assert not common_variants("Zebedee", "Zebedee")  # not listed: the same, not a variant


def test_one_edit_apart() -> None:
    assert one_edit_apart("smith", "smyth") and one_edit_apart("smith", "smth")
    assert one_edit_apart("evans", "evnas") and one_edit_apart("evans", "evanss")
    assert not one_edit_apart("smith", "smith") and not one_edit_apart("smith", "smythe")
    assert not one_edit_apart("evans", "enavs")


def test_find_near_returns_only_the_near_with_their_reasons() -> None:
    record = person("1001", status=None, forename="William", surname="Roberts", dob="2018-03-04")
    candidates = [
        person("A3", forename="Liam", surname="Roberts", dob="2018-04-03"),
        person("A1", forename="Will", surname="Robert", dob="2018-03-04"),
        person("A2", forename="Will", surname="Roberts", dob="2018-03-12"),
        person("A4", forename="William", surname="Roberts", dob="2018-03-04"),  # exact
        person("S1", "staff", forename="Will", surname="Roberts"),
    ]
    found = [(r["mis_id"], why) for r, why in find_near(record, candidates)]
    assert found == [
        ("A1", ["forename William / Will (a common variant)",
                "surname Roberts / Robert (one letter apart)"]),
        ("A3", ["forename William / Liam (a common variant)",
                "date of birth day and month swapped (2018-03-04 / 2018-04-03)"]),
    ]  # fmt: skip
    index = NearIndex(candidates)
    assert len(index) == 5 and [r["mis_id"] for r in index] == ["A3", "A1", "A2", "A4", "S1"]
    assert [(r["mis_id"], w) for r, w in find_near(record, index)] == found
    staff = person("2001", "staff", status=None, forename="Bill", surname="Robert")
    assert [r["mis_id"] for r, _ in find_near(staff, index)] == ["S1"]


# -- in the data-matching exercise -------------------------------------------------------------


def _bc(mis_id: str, name: str, dob: str, type_: str = "pupil") -> dict[str, Any]:
    forename, surname = name.split(" ", 1)
    return person(mis_id, type_, None, forename=forename, surname=surname, dob=dob)


def _pp(mis_id: str, name: str, dob: str, type_: str = "pupil") -> dict[str, Any]:
    forename, surname = name.split(" ", 1)
    return person(mis_id, type_, forename=forename, surname=surname, dob=dob)


def test_a_near_pair_is_a_possible_match_for_a_person_to_decide() -> None:
    entries = match_people(
        [_pp("A1", "Will Roberts", "2018-03-04"), _pp("A2", "Tom Lewis", "2018-03-05")],
        [_bc("1001", "William Roberts", "2018-03-04"), _bc("1002", "Tom Lewis", "2018-03-05")],
        {"pupil"},
    )
    kinds = {(e.kind, e.old_id, e.new_id) for e in entries}
    assert kinds == {("possible", "A1", "1001"), ("probable", "A2", "1002")}
    [possible] = [e for e in entries if e.kind == "possible"]
    assert possible.reason == "forename William / Will (a common variant)"
    assert possible.near == (("forename William / Will (a common variant)",),)
    assert "possible" in DECIDE_KINDS


def test_a_record_with_an_exact_match_is_never_also_possible() -> None:
    # A2 is exactly 1002, and near 1001 too; 1002 is exactly A2, and near A3.
    entries = match_people(
        [
            _pp("A1", "Will Roberts", "2018-03-04"),
            _pp("A2", "William Roberts", "2018-03-05"),
            _pp("A3", "William Roberts", "2018-03-06"),
        ],
        [
            _bc("1001", "William Roberts", "2018-03-04"),
            _bc("1002", "William Roberts", "2018-03-05"),
        ],
        {"pupil"},
    )
    kinds = sorted((e.kind, e.old_id or "", e.new_id or "") for e in entries)
    assert kinds == [
        ("only_parentpay", "A3", ""),
        ("possible", "A1", "1001"),
        ("probable", "A2", "1002"),
    ]


def test_several_near_candidates_are_one_entry_and_not_same_pairs_are_released() -> None:
    parentpay = [_pp("A1", "Tom Lewis", "2018-03-04")]
    bromcom = [_bc("1001", "Tom Lewis", "2018-03-05"), _bc("1002", "Tommy Lewis", "2018-03-04")]
    [entry] = [e for e in match_people(parentpay, bromcom, {"pupil"}) if e.parentpay]
    assert entry.kind == "possible" and [b["mis_id"] for b in entry.bromcom] == ["1001", "1002"]
    assert entry.reason == (
        "1001: date of birth 2018-03-05 / 2018-03-04 (a day apart); "
        "1002: forename Tommy / Tom (a common variant)"
    )

    # A person found A1 and 1001 to be two people: only 1002 is left possible.
    entries = match_people(parentpay, bromcom, {"pupil"}, not_same={("A1", "1001")})
    assert sorted((e.kind, e.old_id or "", e.new_id or "") for e in entries) == [
        ("only_bromcom", "", "1001"),
        ("possible", "A1", "1002"),
    ]
    entries = match_people(parentpay, bromcom, {"pupil"}, not_same={("A1", "1001"), ("A1", "1002")})
    assert sorted(e.kind for e in entries) == ["only_bromcom", "only_bromcom", "only_parentpay"]


# -- end to end, through the real simulators ---------------------------------------------------

# ParentPay as an older MIS left it: each of these is a fixture-school Bromcom record, typed
# a little differently; B8 is someone else (born a week after 1008 Noah Adeyemi).
NEAR_MISSES = [
    person("B1", forename="Noah", surname="Adeyemi", dob="2021-10-31", year_code="N2"),
    person("B2", forename="Jayden", surname="Jones-Smith", dob="2015-09-01", year_code="5"),
    person("B3", forename="Ollie", surname="Featherstonehaugh-Cholmondeley-Wolstenholme",
           dob="2020-01-20", year_code="1"),
    person("B4", "preadmission", forename="Maja", surname="Nowack", dob="2023-07-07"),
    person("B5", forename="Siân", surname="O'Brien", dob="2019-02-06", year_code="2"),
    person("B6", "staff", title="Mrs", forename="Sara", surname="Benett"),
    person("B7", forename="Kieran", surname="O'Brien", dob="2016-11-20", year_code="4"),
    person("B8", forename="Noah", surname="Adeyemi", dob="2021-11-06", year_code="N2"),
]  # fmt: skip
POSSIBLE = {
    "B1": "1008",
    "B2": "1010",
    "B3": "1012",
    "B4": "3003",
    "B5": "1002",
    "B6": "2001",
    "B7": "1003",
}


def _surnames(stack: Stack) -> Counter[str]:
    return Counter(p["fields"]["surname"] for p in stack.parentpay.people(SITE_ID, status="all"))


def test_near_misses_are_held_for_a_person_and_never_duplicated(
    stack: Stack, raw: SnapshotAssertion
) -> None:
    stack.parentpay.seed(SITE_ID, NEAR_MISSES)
    before = _surnames(stack)

    result = run_match(
        load_school(stack.school_file), Options(state_dir=stack.state_dir, out_dir=stack.plans)
    )

    assert {e.old_id: e.new_id for e in result.entries if e.kind == "possible"} == POSSIBLE
    assert not [e for e in result.entries if e.kind in ("certain", "probable")]
    assert {e.old_id for e in result.entries if e.kind == "only_parentpay"} == {"B8"}
    assert result.exit_code == 3 and "7 possible" in result.message
    report = json.loads(result.files.json.read_text(encoding="utf-8"))
    [b6] = [e for e in report["entries"] if e["old_mis_id"] == "B6"]
    assert b6["near"] == [
        ["forename Sarah / Sara (a common variant)", "surname Bennett / Benett (one letter apart)"]
    ]
    assert report["summary"]["possible"] == {"pupil": 5, "staff": 1, "preadmission": 1}
    markdown = result.files.markdown.read_text(encoding="utf-8")
    assert "## Possible matches: a person must decide" in markdown
    assert markdown == raw
    assert not [r for r in stack.parentpay.requests if r.method == "POST"]

    run = run_school(load_school(stack.school_file), Options(state_dir=stack.state_dir))

    waiting = {
        m
        for c in run.plan.data["checks"]
        if c["name"] == "awaiting_data_matching"
        for m in c["records"]
    }
    assert waiting == set(POSSIBLE.values())
    created = {c["mis_id"] for c in run.plan.data["changes"] if c["op"] == "create"}
    assert created == {"1001", "1009", "1011", "2002", "3001"}
    assert run.exit_code == 3  # held back: not done yet
    # No second account for anyone ParentPay may already hold: each near-miss surname is
    # there exactly as often as before; the people never in ParentPay were created.
    after = _surnames(stack)
    assert {s: after[s] for s in before} == before
    assert after["Whitfield"] == after["Hughes"] == 1
