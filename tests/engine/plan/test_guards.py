"""engine/plan/guards.py: the consent, archive and blank guards (docs/school-file.md), and the
words of a blocked plan."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

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
