"""Free school meals (docs/rules.md): fsm is true when a StudentMeals period covers today, and
fsm_start/fsm_end come from that period; otherwise fsm is false (never null) and both dates are
null. A missing end date is common and not an error. Pre-admissions get the same rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rules.helpers import (
    TOMORROW,
    YESTERDAY,
    bromcom,
    meal,
    preadmission,
    record,
    records,
    student,
)

# (StudentMeals periods as (start, end), fsm, fsm_start, fsm_end)
CASES = [
    pytest.param([], False, None, None, id="no period: false, not null"),
    pytest.param([("2025-04-01", None)], True, "2025-04-01", None, id="open period, no end date"),
    pytest.param([("2024-09-02", YESTERDAY)], False, None, None, id="period that ended yesterday"),
    pytest.param([("2025-09-01", "2026-11-28")], True, "2025-09-01", "2026-11-28", id="period ending today"),
    pytest.param([("2026-11-28", None)], True, "2026-11-28", None, id="period starting today"),
    pytest.param([(TOMORROW, None)], False, None, None, id="period starting tomorrow"),
    pytest.param([(None, "2027-03-31")], True, None, "2027-03-31", id="period with no start"),
    pytest.param([("2023-09-04", "2024-07-19"), ("2025-09-01", "2026-11-28")], True, "2025-09-01", "2026-11-28",
                 id="an old ended period and a current one: the current one's dates"),
    pytest.param([("2025-09-01", "2026-11-28"), ("2023-09-04", "2024-07-19")], True, "2025-09-01", "2026-11-28",
                 id="the same, rows in the other order"),
    pytest.param([("2023-01-09", "2023-07-21"), ("2024-01-08", "2024-07-19")], False, None, None,
                 id="only past periods"),
]  # fmt: skip


@pytest.mark.parametrize(("periods", "fsm", "start", "end"), CASES)
def test_fsm_from_the_period_covering_today(
    periods: list[tuple[Any, Any]], fsm: bool, start: Any, end: Any
) -> None:
    data = bromcom(Students=[student(1001)], StudentMeals=[meal(1001, s, e) for s, e in periods])
    fields = record("pupils", data)
    assert (fields["fsm"], fields["fsm_start"], fields["fsm_end"]) == (fsm, start, end)


def test_another_pupils_period_is_not_theirs() -> None:
    data = bromcom(Students=[student(1001), student(1002)], StudentMeals=[meal(1002, "2025-04-01")])
    assert {m: f["fsm"] for m, f in records("pupils", data).items()} == {
        "1001": False,
        "1002": True,
    }


@pytest.mark.parametrize(
    ("periods", "fsm", "start"),
    [
        ([], False, None),
        ([("2026-10-01", None)], True, "2026-10-01"),
        ([("2026-01-05", YESTERDAY)], False, None),
    ],
    ids=[
        "pre-admission without FSM",
        "pre-admission with FSM today",
        "pre-admission FSM ended yesterday",
    ],
)
def test_pre_admissions_fsm(periods: list[tuple[Any, Any]], fsm: bool, start: str | None) -> None:
    data = bromcom(
        PreAdmissionStudents=[preadmission(3001)],
        StudentMeals=[meal(3001, s, e) for s, e in periods],
    )
    fields = record("preadmissions", data)
    assert (fields["fsm"], fields["fsm_start"]) == (fsm, start)
