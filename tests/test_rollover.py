"""A school year ends: the fixture school synced in November, then rolled over to September.

First run on 2026-11-28 (the fixture's today): everyone is created. Then the Bromcom data rolls
over as a school's does in the summer: Year 6 leave at the end of the summer term, everyone else
moves up a year (and into next year's tutor group), and the Accepted applicants for Reception
appear in Students with the same StudentID (one gone from PreAdmissionStudents, one still there
as Admitted). The second run, on the first school day of 2027/28, must give exactly the
expected archives, converts and year-code updates, and leave ParentPay in the expected state.
Both plans and both ParentPay states are snapshots (tests/__snapshots__/test_rollover/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from bromsync import cli
from tests.conftest import SITE_ID, Stack

FIRST_SCHOOL_DAY = "2027-09-06"  # a Monday; the year 2027/28 began on 1 September
END_OF_SUMMER_TERM = "2027-07-21"
# The school's YEARGRP collections are named R, "Year 1", 2 ... 6 (tests/fixtures/README.md), and
# Bromcom's roll-over keeps the names, so the new Year 1 is coded "Year 1" again.
NEXT_YEAR_GROUP = {"R": "Year 1", "Year 1": "2", "2": "3", "3": "4", "4": "5", "5": "6"}
NEXT_TUTOR_GROUP = {"RL": "1L", "1L": "2L", "2L": "3B", "3B": "4B", "4B": "5B", "5B": "6B"}


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def scrub_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Volatile values out, so the snapshot holds only what the data decides."""
    return {**plan, "run_id": "<run_id>", "digest": "<digest>",
            "baseline": None if plan["baseline"] is None else "<upload_id>"}  # fmt: skip


def read_plan(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "100001.plan.json").read_text(encoding="utf-8"))


def september_rollover(stack: Stack) -> None:
    """The fixture school's Bromcom data as it stands on the first day of 2027/28."""
    students = stack.entity("Students")
    for row in students["rows"]:
        if row.get("EndDate"):
            continue  # left before the summer (1004)
        if row["YearGroup"] == "6":
            row["EndDate"] = END_OF_SUMMER_TERM  # Year 6 leave for secondary school
        else:
            row["YearGroup"] = NEXT_YEAR_GROUP[row["YearGroup"]]
            row["TutorGroup"] = NEXT_TUTOR_GROUP[row["TutorGroup"]]
    applicants = stack.entity("PreAdmissionStudents")
    for applicant in [a for a in applicants["rows"] if a["ApplicationStatus"] == "Accepted"]:
        copied = (
            "StudentID",
            "PersonID",
            "UPN",
            "AdmissionNumber",
            "FirstName",
            "LastName",
            "PreferredFirstName",
            "PreferredLastName",
            "DateOfBirth",
            "Gender",
            "DataProcessingConsent",
        )
        pupil = {k: applicant[k] for k in copied if applicant.get(k) is not None}
        students["rows"].append({**pupil, "YearGroup": "R", "TutorGroup": "RL", "House": "Oak",
                                 "StartDate": applicant["AdmissionDate"], "EnrolmentStatus": "C"})  # fmt: skip
    # Bromcom drops one admitted applicant from PreAdmissionStudents and marks the other Admitted.
    applicants["rows"] = [a for a in applicants["rows"] if a["StudentID"] != 3001]
    for applicant in applicants["rows"]:
        if applicant["StudentID"] == 3003:
            applicant["ApplicationStatus"] = "Admitted"
    stack.save_entity("Students", students)
    stack.save_entity("PreAdmissionStudents", applicants)


def test_a_september_rollover(
    stack: Stack, snapshot: SnapshotAssertion, monkeypatch: pytest.MonkeyPatch
) -> None:
    json_snapshot = snapshot.use_extension(JSONSnapshotExtension)

    first = bromsync("run", str(stack.school_file), "--out", str(stack.plans / "november"))
    assert first.exit_code == 3, first.output  # 1007's "Year 1" is held back
    first_plan = read_plan(stack.plans / "november")
    assert {(c["op"], c["type"]) for c in first_plan["changes"]} == {("create", "pupil"), ("create", "staff"),
                                                                      ("create", "preadmission")}  # fmt: skip
    assert scrub_plan(first_plan) == json_snapshot(name="november_plan")
    assert stack.parentpay.people(SITE_ID) == json_snapshot(name="november_parentpay")
    accounts = {m: stack.parentpay.account_id(SITE_ID, m) for m in ("3001", "3003")}

    september_rollover(stack)
    monkeypatch.setenv("BROMSYNC_TODAY", FIRST_SCHOOL_DAY)
    second = bromsync("run", str(stack.school_file), "--out", str(stack.plans / "september"))
    plan = read_plan(stack.plans / "september")
    assert second.exit_code == 3, second.output
    by_op: dict[str, dict[str, dict[str, Any]]] = {}
    for change in plan["changes"]:
        by_op.setdefault(change["op"], {})[f"{change['type']} {change['mis_id']}"] = change

    assert set(by_op) == {"archive", "convert", "update", "create"}
    # Year 6 leave; nobody else (1004 left in October and was never uploaded).
    assert list(by_op["archive"]) == ["pupil 1010"]
    # The Reception intake keeps the accounts made for them as pre-admissions: converted, never
    # archived and re-created, whether Bromcom dropped the application (3001) or marked it
    # Admitted (3003).
    assert list(by_op["convert"]) == ["pupil 3001", "pupil 3003"]
    assert {k: (c["fields"]["year_code"], c["fields"]["reg_group"]) for k, c in by_op["convert"].items()} == {
        "pupil 3001": ("R", "RL"), "pupil 3003": ("R", "RL")}  # fmt: skip
    # Everyone else moves up a year, into next year's tutor group, and nothing else changes.
    assert {k: (c["before"], c["fields"]) for k, c in by_op["update"].items()} == {
        "pupil 1001": ({"year_code": "4", "reg_group": "4B"}, {"year_code": "5", "reg_group": "5B"}),
        "pupil 1002": ({"year_code": "3", "reg_group": "3B"}, {"year_code": "4", "reg_group": "4B"}),
        "pupil 1003": ({"year_code": "5", "reg_group": "5B"}, {"year_code": "6", "reg_group": "6B"}),
        "pupil 1009": ({"year_code": "2", "reg_group": "2L"}, {"year_code": "3", "reg_group": "3B"}),
        "pupil 1012": ({"year_code": "2", "reg_group": "2L"}, {"year_code": "3", "reg_group": "3B"}),
    }  # fmt: skip
    # 1005 started in January (a future starter in November).
    assert {k: c["fields"]["year_code"] for k, c in by_op["create"].items()} == {"pupil 1005": "3"}
    # The old Reception class moved into the group named "Year 1": held back, neither updated nor
    # archived, until the school recodes it or adds the alias (the check says which). 1007 left
    # the "Year 1" group, but its payer's mobile still holds two numbers: held back too.
    held = {c["name"]: c["records"] for c in plan["checks"] if c["severity"] == "error"}
    assert held == {"year_code_not_parentpay": ["1008", "1011"], "mobile_too_long": ["1007"]}
    assert plan["summary"]["staff"] == {"create": 0, "update": 0, "archive": 0, "restore": 0, "convert": 0,
                                        "unchanged": 2}  # fmt: skip
    assert scrub_plan(plan) == json_snapshot(name="september_plan")

    # ParentPay afterwards: nothing was rejected; 1007 was never sent.
    assert "rejected" not in second.output
    people = {p["mis_id"]: p for p in stack.parentpay.people(SITE_ID)}
    assert {m: (p["type"], p["status"]) for m, p in people.items() if p["status"] == "archived"} == {
        "1010": ("pupil", "archived")}  # fmt: skip
    assert {m: (people[m]["type"], people[m]["fields"]["year_code"]) for m in ("3001", "3003", "1008", "1011")} == {
        "3001": ("pupil", "R"), "3003": ("pupil", "R"), "1008": ("pupil", "R"), "1011": ("pupil", "R")}  # fmt: skip
    assert {m: stack.parentpay.account_id(SITE_ID, m) for m in accounts} == accounts
    assert "1007" not in people and "preadmission" not in {p["type"] for p in people.values()}
    assert stack.parentpay.people(SITE_ID) == json_snapshot(name="september_parentpay")
