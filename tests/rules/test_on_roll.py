"""On roll today (docs/rules.md, Leavers): StartDate <= today, EndDate null or >= today, and an
EnrolmentStatus in upload.include_enrolment_statuses (C and M unless the school file says)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rules.helpers import TOMORROW, YESTERDAY, bromcom, run, student

# (Students row changes, school-file settings, uploaded?)
CASES = [
    pytest.param({}, {}, True, id="single registration, started last year"),
    pytest.param({"StartDate": "2026-11-28"}, {}, True, id="starts today"),
    pytest.param({"StartDate": TOMORROW}, {}, False, id="starts tomorrow"),
    pytest.param({"StartDate": "2027-01-05"}, {}, False, id="future starter next term"),
    pytest.param({"StartDate": None}, {}, True, id="no StartDate is open-ended"),
    pytest.param({"EndDate": "2026-11-28"}, {}, True, id="leaves today: still on roll"),
    pytest.param({"EndDate": YESTERDAY}, {}, False, id="left yesterday"),
    pytest.param({"EndDate": "2026-10-23"}, {}, False, id="left at half term"),
    pytest.param({"EnrolmentStatus": "M"}, {}, True, id="main dual registration"),
    pytest.param({"EnrolmentStatus": "S"}, {}, False, id="subsidiary dual registration"),
    pytest.param({"EnrolmentStatus": "G"}, {}, False, id="guest"),
    pytest.param({"EnrolmentStatus": None}, {}, False, id="no enrolment status"),
    pytest.param({"EnrolmentStatus": "S"}, {"include_enrolment_statuses": ["C", "M", "S"]}, True,
                 id="subsidiary dual when the school file lists S"),
    pytest.param({"EnrolmentStatus": "G"}, {"include_enrolment_statuses": ["C", "M", "G"]}, True,
                 id="guest when the school file lists G"),
    pytest.param({"EnrolmentStatus": "M"}, {"include_enrolment_statuses": ["C"]}, False,
                 id="main dual left out when the school file lists only C"),
    pytest.param({"EnrolmentStatus": "S", "EndDate": YESTERDAY}, {"include_enrolment_statuses": ["C", "M", "S"]},
                 False, id="a listed status does not bring back a leaver"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "settings", "on_roll"), CASES)
def test_on_roll_today(changes: dict[str, Any], settings: dict[str, Any], on_roll: bool) -> None:
    result = run("pupils", bromcom(Students=[student(1001, **changes)]), **settings)
    assert [r["mis_id"] for r in result.records] == (["1001"] if on_roll else [])
    # The plan counts what the rule left out, so a school can see why a pupil is missing.
    assert result.left_out == {"on_roll": 0 if on_roll else 1}


def test_each_pupil_is_judged_on_its_own() -> None:
    rows = [
        student(1001),
        student(1004, EndDate="2026-10-23"),
        student(1005, StartDate="2027-01-05"),
        student(1006, EnrolmentStatus="S"),
        student(1012, EnrolmentStatus="M"),
    ]
    result = run("pupils", bromcom(Students=rows))
    assert [r["mis_id"] for r in result.records] == ["1001", "1012"]
    assert result.left_out == {"on_roll": 3}
