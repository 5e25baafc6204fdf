"""The archive, blank and consent guards of docs/school-file.md and 3 (engine/plan/guards.py,
and end to end): blocked plans push nothing, exit 3; `apply PLANFILE --allow-mass-*` releases
one reviewed plan, recorded in state. (Here, not in tests/engine/plan/: pytest needs unique
test file names.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engine.commands.result import shown_path
from engine.config.school import BromcomSettings, SchoolConfig
from engine.plan.diff import Change, diff
from engine.plan.guards import (
    archive_guards,
    blank_guards,
    blocked_reason,
    find_guards,
    plan_next_step,
    release_flags,
)
from engine.records import Record
from tests.conftest import FIXTURE_TODAY, PARENTPAY_TOKEN, SITE_ID, Stack
from tests.test_end_to_end import bromsync

# == the guards themselves (engine/plan/guards.py) ==========================================

SCHOOL = SchoolConfig(
    path=Path("schools/oakfield.yaml"),
    name="Oakfield Primary School",
    urn=100001,
    parentpay_site_id=5001,
    bromcom=BromcomSettings("http://127.0.0.1/x", 20001, "user", "BROMCOM_PASSWORD_OAKFIELD"),
    options=("pupils", "staff", "preadmissions"),
    lawful_basis="legitimate_interest",
    ufsm_year_codes=("R", "1", "2"),
)


def person(mis_id: str, kind: str = "pupil", status: str = "active", **fields: Any) -> Record:
    return {"mis_id": mis_id, "type": kind, "status": status, "fields": fields}


def people(n: int, kind: str, start: int = 1, **fields: Any) -> dict[str, Record]:
    return {str(i): person(str(i), kind, **fields) for i in range(start, start + n)}


def summary_of(kind: str, archives: int) -> dict[str, dict[str, int]]:
    counts = {"create": 0, "update": 0, "archive": 0, "restore": 0, "convert": 0, "unchanged": 0}
    return {kind: {**counts, "archive": archives}}


# -- the archive guard: both limits, or the small-type rule ----------------------------------


@pytest.mark.parametrize(
    ("active", "archives", "blocked", "rule"),
    [
        (27, 24, True, "half"),  # a Staff table cut to 3 rows
        (16, 16, True, "half"),  # an empty PreAdmissionStudents table
        (10, 5, False, None),  # exactly half is not more than half
        (9, 5, True, "half"),  # more than half, and 5
        (6, 4, False, None),  # more than half, but fewer than 5
        (100, 26, True, "limits"),  # 26%, 26 > 25: the school-file limits
        (100, 25, False, None),  # not more than the count limit, not more than half
        (300, 151, True, "limits"),  # both rules: the limits are named
    ],
)
def test_archive_guard(active: int, archives: int, blocked: bool, rule: str | None) -> None:
    hits = archive_guards(SCHOOL, summary_of("staff", archives), people(active, "staff"))
    assert bool(hits) is blocked
    if hits:
        [hit] = hits
        assert (hit.guard, hit.type, hit.count, hit.active, hit.rule) == (
            "archive",
            "staff",
            archives,
            active,
            rule,
        )
        assert f"would archive {archives} of {active} staff" in hit.message


def test_the_small_type_rule_holds_whatever_the_limits() -> None:
    lax = dataclasses.replace(SCHOOL, max_archive_percent=100, max_archive_count=1000)
    [hit] = archive_guards(lax, summary_of("preadmission", 16), people(16, "preadmission"))
    assert hit.message == (
        "this plan would archive 16 of 16 pre-admissions (100%), more than half of them: a plan "
        "that archives more than half of a type's active records, and at least 5, is blocked "
        "whatever guards.max_archive_percent and guards.max_archive_count say"
    )


def test_archived_records_do_not_count_as_active() -> None:
    archived = {str(i): person(str(i), "staff", status="archived") for i in range(10, 30)}
    baseline = {**people(6, "staff"), **archived}
    assert archive_guards(SCHOOL, summary_of("staff", 5), baseline)[0].active == 6


# -- the blank guard ---------------------------------------------------------------------------


def _pupils(n: int) -> dict[str, Record]:
    return people(n, "pupil", payer_email="p@example.org", payer_mobile="07700900100", fsm=True)


def test_a_field_emptied_for_everyone_is_blocked_naming_the_field() -> None:
    baseline = _pupils(210)
    today = [person(m, payer_email=None, payer_mobile="07700900100", fsm=True) for m in baseline]
    changes, _ = diff(today, baseline, types={"pupil"})
    [hit] = blank_guards(SCHOOL, changes, baseline)
    assert (hit.guard, hit.type, hit.field, hit.count, hit.active) == (
        "blank",
        "pupil",
        "payer_email",
        210,
        210,
    )
    assert hit.message.startswith("this plan would empty `payer_email` for 210 of 210 pupils")
    assert hit.to_json()["percent"] == 100.0 and hit.flag == "--allow-mass-blank"


def test_each_field_is_its_own_guard() -> None:
    baseline = _pupils(20)
    today = [person(m, payer_email=None, payer_mobile=None, fsm=True) for m in baseline]
    hits = blank_guards(SCHOOL, diff(today, baseline, types={"pupil"})[0], baseline)
    assert [(h.field, h.count) for h in hits] == [("payer_email", 20), ("payer_mobile", 20)]


@pytest.mark.parametrize(
    ("active", "emptied", "blocked"),
    [
        (210, 11, False),  # 11 > 10 but 5.2% is not more than 10%
        (100, 11, True),  # 11% and 11
        (50, 10, False),  # 20%, but not more than 10
        (11, 11, True),
    ],
)
def test_both_blank_limits_must_be_exceeded(active: int, emptied: int, blocked: bool) -> None:
    baseline = _pupils(active)
    changes = [
        Change("update", "pupil", str(i), {"payer_email": None}, {"payer_email": "p@example.org"})
        for i in range(1, emptied + 1)
    ]
    assert bool(blank_guards(SCHOOL, changes, baseline)) is blocked


def test_free_meals_and_dietary_never_block() -> None:
    strict = dataclasses.replace(SCHOOL, max_blank_percent=0, max_blank_count=0)
    baseline = people(
        30, "pupil", fsm=True, fsm_start="2025-09-01", fsm_end="2026-07-31", dietary=["Nut"]
    )
    today = [person(m, fsm=None, fsm_start=None, fsm_end=None, dietary=None) for m in baseline]
    assert blank_guards(strict, diff(today, baseline, types={"pupil"})[0], baseline) == []


def test_only_values_parentpay_holds_count() -> None:
    strict = dataclasses.replace(SCHOOL, max_blank_percent=0, max_blank_count=0)
    baseline = {
        "1": person("1", payer_email=None, surname="A"),  # nothing to lose
        "2": person("2", status="archived", payer_email="x@example.org", surname="B"),
        "3": person("3", payer_email="", surname="C"),  # an empty text is no value either
    }
    today = [person(m, payer_email=None, surname="Z") for m in baseline]
    changes, _ = diff(today, baseline, types={"pupil"})
    assert blank_guards(strict, changes, baseline) == []
    # A value becoming "" is emptied too: a mapping that joins nothing may give text, not null.
    baseline["1"]["fields"]["payer_email"] = "y@example.org"
    changes = [
        Change("update", "pupil", "1", {"payer_email": ""}, {"payer_email": "y@example.org"})
    ]
    assert [h.count for h in blank_guards(strict, changes, baseline)] == [1]


def test_a_convert_that_drops_a_value_counts_against_the_preadmissions() -> None:
    strict = dataclasses.replace(SCHOOL, max_blank_percent=0, max_blank_count=0)
    baseline = people(3, "preadmission", payer_email="p@example.org", admission_date="2027-09-01")
    today = [person(m, payer_email=None, reg_group="RL") for m in baseline]
    changes, _ = diff(today, baseline, types={"pupil", "preadmission"})
    assert {c.op for c in changes} == {"convert"}
    [hit] = blank_guards(strict, changes, baseline)  # admission_date is not a pupil field
    assert (hit.type, hit.field, hit.count, hit.active) == ("preadmission", "payer_email", 3, 3)


# -- every guard that fires, the flags, the words ------------------------------------------------


def _everything_at_once(released: frozenset[str] = frozenset()) -> list[Any]:
    baseline = {**_pupils(20), **people(27, "staff", start=100, email="s@example.org")}
    today = [
        person(str(i), payer_email=None, payer_mobile="07700900100", fsm=True) for i in range(1, 21)
    ]
    today += [person(str(i), "staff", email="s@example.org") for i in range(100, 103)]
    changes, summary = diff(today, baseline, types={"pupil", "staff"})
    return find_guards(
        SCHOOL,
        consent={"pupil": (20, 0), "staff": (3, 0)},
        summary=summary,
        changes=changes,
        baseline=baseline,
        released=released,
    )


def test_every_guard_that_fires_is_reported_with_the_flags_it_needs() -> None:
    hits = _everything_at_once()
    assert [(h.guard, h.type, h.field) for h in hits] == [
        ("archive", "staff", None),
        ("blank", "pupil", "payer_email"),
    ]
    flags = release_flags(hits)
    assert flags == ["--allow-mass-archive", "--allow-mass-blank"]
    reason = blocked_reason(hits, plan_next_step(100001, flags))
    assert reason is not None
    assert reason.startswith(
        "this plan would archive 24 of 27 staff (88.9%), more than half of them"
    )
    assert "; this plan would empty `payer_email` for 20 of 20 pupils in ParentPay (100%)" in reason
    assert "a column renamed or misspelt" in reason and "ticked for the web-service" in reason
    assert reason.endswith(
        "`bromsync apply DIR/100001.plan.json --allow-mass-archive --allow-mass-blank`."
    )


def test_a_flag_lifts_only_its_own_guard() -> None:
    hits = _everything_at_once(frozenset({"archive"}))
    assert [(h.guard, h.released) for h in hits] == [("archive", True), ("blank", False)]
    assert release_flags(hits) == ["--allow-mass-blank"]
    reason = blocked_reason(hits, "next")
    assert reason is not None and "archive" not in reason and "payer_email" in reason
    lifted = _everything_at_once(frozenset({"archive", "blank"}))
    assert blocked_reason(lifted, "next") is None


def test_a_consent_school_with_nobody_consented_has_no_flag() -> None:
    consent = dataclasses.replace(SCHOOL, lawful_basis="consent")
    baseline = people(8, "pupil")
    hits = find_guards(
        consent,
        consent={"pupil": (0, 8)},
        summary=summary_of("pupil", 8),
        changes=[],
        baseline=baseline,
        released={"archive", "blank"},
    )
    # The archives are the consent guard's consequence: reported once, and no flag lifts it.
    assert [(h.guard, h.released) for h in hits] == [("consent", False)]
    assert release_flags(hits) is None
    reason = blocked_reason(hits, None)
    assert reason is not None and "steps 11-16" in reason and "--allow-mass" not in reason


# == end to end, with the fixture school on both simulators ==================================


def _end_pupils(stack: Stack, ids: list[int]) -> None:
    content = stack.entity("Students")
    for row in content["rows"]:
        if row["StudentID"] in ids:
            row["EndDate"] = "2026-11-20"
    stack.save_entity("Students", content)


def _school_file(stack: Stack, guards: str) -> None:
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(text + f"guards: {guards}\n", encoding="utf-8")


def test_archiving_40_percent_of_pupils_is_blocked_and_nothing_is_pushed(stack: Stack) -> None:
    # The fixture has 8 pupils acknowledged; with a count limit of 1 the percent limit decides.
    _school_file(stack, "{max_archive_percent: 10, max_archive_count: 1}")
    assert bromsync("run", str(stack.school_file)).exit_code == 3
    before = stack.parentpay.people(SITE_ID)
    posts = len([r for r in stack.parentpay.requests if r.method == "POST"])
    _end_pupils(stack, [1001, 1002, 1003])  # 3 of 8 active pupils: 38%

    result = bromsync("run", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 3, result.output
    assert "would archive 3 of 8 pupils" in result.output
    assert "--allow-mass-archive" in result.output
    assert stack.parentpay.people(SITE_ID) == before
    assert len([r for r in stack.parentpay.requests if r.method == "POST"]) == posts
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    assert plan["blocked"] is True and plan["summary"]["pupil"]["archive"] == 3


def test_the_same_plan_passes_with_allow_mass_archive(stack: Stack) -> None:
    _school_file(stack, "{max_archive_percent: 10, max_archive_count: 1}")
    bromsync("run", str(stack.school_file))
    _end_pupils(stack, [1001, 1002, 1003])
    result = bromsync("run", str(stack.school_file), "--allow-mass-archive")
    assert "3 applied" in result.output, result.output
    archived = {p["mis_id"] for p in stack.parentpay.people(SITE_ID, status="archived")}
    assert archived == {"1001", "1002", "1003"}
    [release] = _releases(stack)
    assert release[:5] == ("archive", "pupil", None, 3, 8)
    assert release[6] == "run --allow-mass-archive"


def test_both_limits_must_be_exceeded(stack: Stack) -> None:
    # 3 archives is over 10% but not over the default count of 25: not blocked.
    bromsync("run", str(stack.school_file))
    _end_pupils(stack, [1001, 1002, 1003])
    result = bromsync("run", str(stack.school_file))
    assert "blocked" not in result.output and "3 applied" in result.output, result.output


def test_a_blocked_plan_file_is_applied_only_with_its_flag(stack: Stack) -> None:
    _school_file(stack, "{max_archive_percent: 10, max_archive_count: 1}")
    bromsync("run", str(stack.school_file))
    _end_pupils(stack, [1001, 1002, 1003])
    assert bromsync("plan", str(stack.school_file), "--out", str(stack.plans)).exit_code == 3
    planfile = str(stack.plans / "100001.plan.json")
    before = stack.parentpay.people(SITE_ID)
    for flags in ([], ["--allow-mass-blank"]):
        result = bromsync("apply", planfile, *flags)
        assert result.exit_code == 3 and "is blocked; nothing was pushed" in result.output
        assert f"bromsync apply {planfile} --allow-mass-archive`" in result.output
        assert stack.parentpay.people(SITE_ID) == before
    result = bromsync("apply", planfile, "--allow-mass-archive")
    assert "3 applied" in result.output, result.output
    archived = {p["mis_id"] for p in stack.parentpay.people(SITE_ID, status="archived")}
    assert archived == {"1001", "1002", "1003"}


# -- the small-type archive rule: more than half, and at least 5, whatever the limits --------


def _add_rows(stack: Stack, entity: str, template_id: int, ids: range, **fixed: object) -> None:
    """Copies of one fixture row under new IDs and names (a bigger school, same shape)."""
    content = stack.entity(entity)
    key = "StaffID" if entity == "Staff" else "StudentID"
    [template] = [r for r in content["rows"] if r[key] == template_id]
    for n, new_id in enumerate(ids):
        row = {k: v for k, v in template.items() if k not in ("UPN", "AdmissionNumber")}
        row.update({key: new_id, "PersonID": new_id, "LastName": f"Surname{chr(65 + n)}", **fixed})
        content["rows"].append(row)
    stack.save_entity(entity, content)


def _keep_rows(stack: Stack, entity: str, keep: int) -> None:
    content = stack.entity(entity)
    content["rows"] = content["rows"][:keep]
    stack.save_entity(entity, content)


def _posts(stack: Stack) -> int:
    return len([r for r in stack.parentpay.requests if r.method == "POST"])


def _releases(stack: Stack) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(stack.state_dir / "100001.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT guard, type, field, count, active, released_by, command, plan_digest, "
            "released_at IS NOT NULL FROM guard_releases ORDER BY released_at"
        ).fetchall()
    finally:
        con.close()


def test_a_staff_table_cut_to_3_rows_is_blocked_whatever_the_limits(stack: Stack) -> None:
    # 2001 and 2002 are current; 25 more make 27 staff, under the default count limit of 25.
    _add_rows(stack, "Staff", 2002, range(2101, 2126))
    bromsync("run", str(stack.school_file))
    assert len(stack.parentpay.people(SITE_ID, type="staff")) == 27
    before, posts = stack.parentpay.people(SITE_ID), _posts(stack)
    _keep_rows(stack, "Staff", 3)  # 2001, 2002 and the leaver 2003: 25 of 27 go

    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3, result.output
    assert "would archive 25 of 27 staff (92.6%), more than half of them" in result.output
    assert stack.parentpay.people(SITE_ID) == before and _posts(stack) == posts


def test_an_empty_preadmissions_table_is_blocked(stack: Stack) -> None:
    _add_rows(stack, "PreAdmissionStudents", 3003, range(3101, 3115))  # 16 accepted in all
    bromsync("run", str(stack.school_file))
    assert len(stack.parentpay.people(SITE_ID, type="preadmission")) == 16
    before, posts = stack.parentpay.people(SITE_ID), _posts(stack)
    _keep_rows(stack, "PreAdmissionStudents", 0)

    result = bromsync("run", str(stack.school_file), "--out", str(stack.plans))
    assert result.exit_code == 3, result.output
    assert "would archive 16 of 16 pre-admissions (100%), more than half" in result.output
    assert stack.parentpay.people(SITE_ID) == before and _posts(stack) == posts
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    [guard] = plan["guards"]
    assert guard == {
        **guard,
        "guard": "archive",
        "type": "preadmission",
        "count": 16,
        "active": 16,
        "percent": 100.0,
        "rule": "half",
        "flag": "--allow-mass-archive",
        "released": False,
    }
    # Five or fewer of a small type never trip the rule: 2 of the fixture's 2 pre-admissions.


def test_a_small_type_losing_fewer_than_5_is_not_blocked(stack: Stack) -> None:
    bromsync("run", str(stack.school_file))
    _keep_rows(stack, "PreAdmissionStudents", 0)  # 2 of 2 pre-admissions
    result = bromsync("run", str(stack.school_file))
    assert "blocked" not in result.output and "2 applied" in result.output, result.output


# -- the blank guard -----------------------------------------------------------------------


def _drop_payer_emails(stack: Stack) -> None:
    """Every contact's e-mail gone from Emails: what a broken join or column looks like."""
    content = stack.entity("Emails")
    content["rows"] = [r for r in content["rows"] if not 5001 <= r["PersonID"] <= 5020]
    stack.save_entity("Emails", content)


def test_payer_email_blanked_for_everyone_is_blocked_naming_the_field(stack: Stack) -> None:
    _school_file(stack, "{max_blank_count: 3}")  # the fixture's 8 pupils are under 10
    bromsync("run", str(stack.school_file))
    with_email = [
        p["mis_id"]
        for p in stack.parentpay.people(SITE_ID, type="pupil")
        if p["fields"]["payer_email"]
    ]
    before, posts = stack.parentpay.people(SITE_ID), _posts(stack)
    _drop_payer_emails(stack)

    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3, result.output
    assert (
        f"would empty `payer_email` for {len(with_email)} of 8 pupils in ParentPay" in result.output
    )
    assert (
        "more than guards.max_blank_percent (10%) and guards.max_blank_count (3)" in result.output
    )
    assert "a column renamed or misspelt" in result.output
    assert "--allow-mass-blank" in result.output
    assert stack.parentpay.people(SITE_ID) == before and _posts(stack) == posts


def test_plan_then_apply_with_allow_mass_blank_pushes_it_and_records_the_release(
    stack: Stack,
) -> None:
    _school_file(stack, "{max_blank_count: 3}")
    bromsync("run", str(stack.school_file))
    _drop_payer_emails(stack)
    blocked = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    assert blocked.exit_code == 3, blocked.output
    planfile = stack.plans / "100001.plan.json"
    assert (
        f"push exactly that plan with `bromsync apply {shown_path(planfile)} --allow-mass-blank`"
        in (blocked.output)
    )
    report = (stack.plans / "100001.plan.md").read_text(encoding="utf-8")
    assert "> - This plan would empty `payer_email` for" in report
    # The command as typed where `plan` ran, as its footer gives it.
    assert f"`bromsync apply {shown_path(planfile)} --allow-mass-blank`" in report
    plan = json.loads(planfile.read_text(encoding="utf-8"))
    [guard] = plan["guards"]
    assert (guard["guard"], guard["type"], guard["field"]) == ("blank", "pupil", "payer_email")

    refused = bromsync("apply", str(planfile))
    assert refused.exit_code == 3 and "nothing was pushed" in refused.output
    assert "payer_email" in refused.output and _releases(stack) == []

    applied = bromsync("apply", str(planfile), "--allow-mass-blank")
    assert applied.exit_code == 3, applied.output  # 1007 is held back by a check, as always
    assert f"{len(plan['changes'])} applied; 1 held back" in applied.output
    emails = {p["fields"]["payer_email"] for p in stack.parentpay.people(SITE_ID, type="pupil")}
    assert emails == {None}
    [release] = _releases(stack)
    guard_, kind, field, count, active, who, command, digest, stamped = release
    assert (guard_, kind, field, count, active) == (
        "blank",
        "pupil",
        "payer_email",
        guard["count"],
        8,
    )
    assert who == f"{getpass.getuser()}@{socket.gethostname()}"
    assert command == f"apply {planfile} --allow-mass-blank"
    assert digest == plan["digest"] and stamped
    # The same plan is never pushed twice, flag or not.
    assert bromsync("apply", str(planfile), "--allow-mass-blank").exit_code == 2


def test_a_released_plan_must_still_pass_every_other_check_of_apply(stack: Stack) -> None:
    _school_file(stack, "{max_blank_count: 3}")
    bromsync("run", str(stack.school_file))
    _drop_payer_emails(stack)
    assert bromsync("plan", str(stack.school_file), "--out", str(stack.plans)).exit_code == 3
    planfile = stack.plans / "100001.plan.json"
    text = planfile.read_text(encoding="utf-8")

    # Unblocking a plan by editing it is refused: it is not the plan that was reviewed.
    planfile.write_text(text.replace('"blocked": true', '"blocked": false'), encoding="utf-8")
    edited = bromsync("apply", str(planfile), "--allow-mass-blank")
    assert edited.exit_code == 2 and "was changed after bromsync wrote it" in edited.output
    planfile.write_text(text, encoding="utf-8")

    # Another upload acknowledged since: the reviewed plan is stale, flag or not.
    stack.edit_row("Students", "StudentID", 1001, LastName="Whitfield-Hart")
    elsewhere = str(stack.plans.parent / "run-plans")  # not over the reviewed plan's file
    assert (
        bromsync("run", str(stack.school_file), "--allow-mass-blank", "--out", elsewhere).exit_code
        == 3
    )
    stale = bromsync("apply", str(planfile), "--allow-mass-blank")
    assert stale.exit_code == 2 and "is stale" in stale.output, stale.output
    assert [r[6] for r in _releases(stack)] == ["run --allow-mass-blank"]


def test_plan_with_allow_mass_blank_records_the_release_and_apply_needs_no_flag(
    stack: Stack,
) -> None:
    _school_file(stack, "{max_blank_count: 3}")
    bromsync("run", str(stack.school_file))
    _drop_payer_emails(stack)
    made = bromsync("plan", str(stack.school_file), "--out", str(stack.plans), "--allow-mass-blank")
    assert "blocked" not in made.output, made.output
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    assert plan["blocked"] is False and [g["released"] for g in plan["guards"]] == [True]
    assert [r[6] for r in _releases(stack)] == ["plan --allow-mass-blank"]
    report = (stack.plans / "100001.plan.md").read_text(encoding="utf-8")
    assert "Lifted with `--allow-mass-blank` after review: this plan would empty" in report
    assert "applied" in bromsync("apply", str(stack.plans / "100001.plan.json")).output
    assert len(_releases(stack)) == 1  # the release was the plan's; apply lifts nothing more


def test_run_with_allow_mass_blank_pushes_and_records_the_release(stack: Stack) -> None:
    _school_file(stack, "{max_blank_count: 3}")
    bromsync("run", str(stack.school_file))
    _drop_payer_emails(stack)
    result = bromsync("run", str(stack.school_file), "--allow-mass-blank")
    assert "blocked" not in result.output and "applied" in result.output, result.output
    assert {p["fields"]["payer_email"] for p in stack.parentpay.people(SITE_ID, type="pupil")} == {
        None
    }
    [release] = _releases(stack)
    assert release[:3] == ("blank", "pupil", "payer_email")
    assert release[6] == "run --allow-mass-blank"


def test_free_meal_and_dietary_blanks_never_block(stack: Stack) -> None:
    _school_file(stack, "{max_blank_percent: 0, max_blank_count: 0}")
    bromsync("run", str(stack.school_file))
    for entity in ("StudentMeals", "PersonMedicalConditions"):
        _keep_rows(stack, entity, 0)
    result = bromsync("run", str(stack.school_file))
    assert "blocked" not in result.output and "applied" in result.output, result.output
    pupils = {p["mis_id"]: p["fields"] for p in stack.parentpay.people(SITE_ID, type="pupil")}
    assert pupils["1001"]["fsm"] is False and pupils["1001"]["fsm_start"] is None
    assert not pupils["1002"]["dietary"]
    assert _releases(stack) == []


def test_every_guard_that_fires_is_reported_and_apply_needs_each_flag(stack: Stack) -> None:
    _school_file(stack, "{max_blank_count: 3}")
    _add_rows(stack, "Staff", 2002, range(2101, 2126))
    bromsync("run", str(stack.school_file))
    _keep_rows(stack, "Staff", 3)
    _drop_payer_emails(stack)
    blocked = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    assert blocked.exit_code == 3, blocked.output
    assert "would archive 25 of 27 staff" in blocked.output
    assert "would empty `payer_email`" in blocked.output
    planfile = str(stack.plans / "100001.plan.json")
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    assert [(g["guard"], g["type"]) for g in plan["guards"]] == [
        ("archive", "staff"),
        ("blank", "pupil"),
    ]
    before = stack.parentpay.people(SITE_ID)
    for flag in ("--allow-mass-archive", "--allow-mass-blank"):
        refused = bromsync("apply", planfile, flag)
        assert refused.exit_code == 3, refused.output
        assert f"{planfile} --allow-mass-archive --allow-mass-blank`" in refused.output
        other = ({"--allow-mass-archive", "--allow-mass-blank"} - {flag}).pop()
        assert f"({other} was not given)" in refused.output
    assert stack.parentpay.people(SITE_ID) == before
    applied = bromsync("apply", planfile, "--allow-mass-blank", "--allow-mass-archive")
    assert f"{len(plan['changes'])} applied" in applied.output, applied.output
    assert [r[0] for r in _releases(stack)] == ["archive", "blank"]
    assert {r[6] for r in _releases(stack)} == {
        f"apply {planfile} --allow-mass-archive --allow-mass-blank"
    }


def test_a_guard_run_lifted_stays_lifted_in_its_plan_file(stack: Stack) -> None:
    _school_file(stack, "{max_blank_count: 3}")
    _add_rows(stack, "Staff", 2002, range(2101, 2126))
    bromsync("run", str(stack.school_file))
    _keep_rows(stack, "Staff", 3)
    _drop_payer_emails(stack)
    out = ["--out", str(stack.plans)]
    blocked = bromsync("run", str(stack.school_file), "--allow-mass-archive", *out)
    assert blocked.exit_code == 3 and "would empty `payer_email`" in blocked.output
    assert "would archive" not in blocked.output.split("blocked:")[1]
    planfile = str(stack.plans / "100001.plan.json")
    applied = bromsync("apply", planfile, "--allow-mass-blank")
    assert "applied" in applied.output, applied.output
    assert [(r[0], r[6].split()[0]) for r in _releases(stack)] == [
        ("archive", "run"),
        ("blank", "apply"),
    ]


def test_consent_school_with_nobody_consented_is_blocked(stack: Stack) -> None:
    content = stack.entity("Students")
    for row in content["rows"]:
        row["DataProcessingConsent"] = False
    stack.save_entity("Students", content)
    text = stack.school_file.read_text(encoding="utf-8").replace("legitimate_interest", "consent")
    stack.school_file.write_text(text, encoding="utf-8")
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3, result.output
    assert "steps 11-16" in result.output and "Data processing consent" in result.output
    assert stack.parentpay.people(SITE_ID) == []


@contextmanager
def _generated_primary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: tuple[str, ...]
) -> Iterator[tuple[Path, Any, Path]]:
    """A generated 210-pupil primary on both simulators: (school file, ParentPay, its data)."""
    from simulators.bromcom import BromcomSimulator
    from simulators.datagen import generate_school, write_school_file
    from simulators.parentpay import ParentPaySimulator

    today = dt.date.fromisoformat(FIXTURE_TODAY)
    summary = generate_school(
        tmp_path / "bromcom",
        org_id=30001,
        seed=7,
        size="primary",
        today=today,
        username="pp",
        password="pw",
    )
    monkeypatch.setenv("BROMSYNC_TODAY", FIXTURE_TODAY)
    monkeypatch.setenv("PRIMARY_PASSWORD", "pw")
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", PARENTPAY_TOKEN)
    monkeypatch.setenv("BROMSYNC_STATE_DIR", str(tmp_path / "state"))
    with (
        BromcomSimulator(tmp_path / "bromcom") as bromcom,
        ParentPaySimulator(
            tmp_path / "parentpay", token=PARENTPAY_TOKEN, sites=[SITE_ID]
        ) as parentpay,
    ):
        monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", parentpay.url)
        school = tmp_path / "primary.yaml"
        write_school_file(
            school,
            summary,
            url=bromcom.url,
            password_env="PRIMARY_PASSWORD",
            parentpay_site_id=SITE_ID,
            options=options,
        )
        yield school, parentpay, tmp_path / "bromcom" / "30001"


def _edit(data: Path, entity: str, keep: Callable[[dict[str, Any]], bool]) -> None:
    path = data / f"{entity}.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    content["rows"] = [r for r in content["rows"] if keep(r)]
    path.write_text(json.dumps(content), encoding="utf-8")
    stamp = path.stat().st_mtime + 2
    os.utime(path, (stamp, stamp))


def _post_count(parentpay: Any) -> int:
    return len([r for r in parentpay.requests if r.method == "POST"])


def test_a_generated_primary_losing_40_percent_of_pupils_is_blocked_then_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 5's case at realistic size: 40% of a one-form primary gone at once (say a
    permission was unticked for part of the data) blocks with exit 3; after review,
    --allow-mass-archive lets the same archives through."""
    with _generated_primary(tmp_path, monkeypatch, ("pupils",)) as (school, parentpay, data):
        assert bromsync("run", str(school)).exit_code in (0, 3)
        active = [p["mis_id"] for p in parentpay.people(SITE_ID, type="pupil")]
        leaving = set(active[: round(len(active) * 0.4)])
        _edit(data, "Students", lambda r: str(r["StudentID"]) not in leaving)
        posts = _post_count(parentpay)

        blocked = bromsync("run", str(school))
        assert blocked.exit_code == 3, blocked.output
        percent = f"{100 * len(leaving) / len(active):.1f}".removesuffix(".0")
        assert 39.5 <= float(percent) <= 40.5
        assert (
            f"would archive {len(leaving)} of {len(active)} pupils ({percent}%)" in blocked.output
        )
        assert _post_count(parentpay) == posts
        assert len(parentpay.people(SITE_ID, type="pupil")) == len(active)

        allowed = bromsync("run", str(school), "--allow-mass-archive")
        assert allowed.exit_code in (0, 3), allowed.output
        archived = {p["mis_id"] for p in parentpay.people(SITE_ID, type="pupil", status="archived")}
        assert archived == leaving


def test_a_generated_primary_losing_staff_preadmissions_and_payer_emails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10's harmful cases on the 210-pupil primary, all in one run: a Staff table cut to
    3 rows, an empty PreAdmissionStudents table and every contact's e-mail gone (a broken
    join). Each guard is reported, nothing is pushed; the reviewed plan goes with both flags."""
    options = ("pupils", "staff", "preadmissions")
    with _generated_primary(tmp_path, monkeypatch, options) as (school, parentpay, data):
        assert bromsync("run", str(school)).exit_code in (0, 3)
        staff = parentpay.people(SITE_ID, type="staff", status="active")
        pre = parentpay.people(SITE_ID, type="preadmission", status="active")
        pupils = parentpay.people(SITE_ID, type="pupil", status="active")
        with_email = sum(1 for p in pupils if p["fields"]["payer_email"])
        assert len(staff) > 6 and len(pre) >= 5 and with_email > 100
        kept = {int(p["mis_id"]) for p in staff[:3]}
        staff_people = {r["PersonID"] for r in _rows(data, "Staff")}
        _edit(data, "Staff", lambda r: r["StaffID"] in kept)
        _edit(data, "PreAdmissionStudents", lambda r: False)
        _edit(data, "Emails", lambda r: r["PersonID"] in staff_people)
        before, posts = parentpay.people(SITE_ID), _post_count(parentpay)

        out = tmp_path / "plans"
        blocked = bromsync("plan", str(school), "--out", str(out))
        assert blocked.exit_code == 3, blocked.output
        gone = len(staff) - 3
        assert f"would archive {gone} of {len(staff)} staff" in blocked.output
        assert f"would archive {len(pre)} of {len(pre)} pre-admissions (100%)" in blocked.output
        assert (
            f"would empty `payer_email` for {with_email} of {len(pupils)} pupils" in blocked.output
        )
        [path] = out.glob("*.plan.json")
        plan = json.loads(path.read_text(encoding="utf-8"))
        assert {(g["guard"], g["type"], g["field"]) for g in plan["guards"]} >= {
            ("archive", "staff", None),
            ("archive", "preadmission", None),
            ("blank", "pupil", "payer_email"),
        }
        planfile = str(path)
        assert bromsync("apply", planfile, "--allow-mass-archive").exit_code == 3
        assert parentpay.people(SITE_ID) == before and _post_count(parentpay) == posts

        applied = bromsync("apply", planfile, "--allow-mass-archive", "--allow-mass-blank")
        assert applied.exit_code in (0, 3), applied.output
        assert len(parentpay.people(SITE_ID, type="staff", status="active")) == 3, applied.output
        assert parentpay.people(SITE_ID, type="preadmission", status="active") == []
        active = parentpay.people(SITE_ID, type="pupil", status="active")
        assert {p["fields"]["payer_email"] for p in active} == {None}


def _rows(data: Path, entity: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((data / f"{entity}.json").read_text(encoding="utf-8"))[
        "rows"
    ]
    return rows
