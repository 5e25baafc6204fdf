"""Pre-admissions (docs/rules.md, Records and identity): only Accepted applicants are sent, with the
pupil fields (no reg_group) plus admission_date. From the first day an applicant is in Students
the same StudentID is a pupil, so it is never also sent as a pre-admission (that would be two
records with one mis_id); an Admitted applicant whose first day is still to come stays one."""

from __future__ import annotations

from typing import Any

import pytest

from engine.records import RECORD_FIELDS
from tests.rules.helpers import (
    TOMORROW,
    bromcom,
    contact,
    email,
    person,
    phone,
    preadmission,
    record,
    run,
    run_all,
    student,
)  # fmt: skip

# (ApplicationStatus, the Students row with the same ID or None, sent?, the include rule that left it out)
CASES = [
    pytest.param("Applied", None, False, "accepted", id="Applied"),
    pytest.param("Offered", None, False, "accepted", id="Offered"),
    pytest.param("Accepted", None, True, None, id="Accepted"),
    pytest.param("Withdrawn", None, False, "accepted", id="Withdrawn"),
    pytest.param(None, None, False, "accepted", id="no status"),
    pytest.param("Admitted", None, False, "accepted", id="Admitted but not in Students"),
    pytest.param("Admitted", {"StartDate": "2027-09-01"}, True, None,
                 id="Admitted, first day in September: still a pre-admission"),
    pytest.param("Admitted", {"StartDate": TOMORROW}, True, None, id="Admitted, starts tomorrow"),
    pytest.param("Admitted", {"StartDate": "2026-11-28"}, False, "not_yet_a_pupil",
                 id="Admitted today: a pupil now"),
    pytest.param("Accepted", {"StartDate": "2026-11-28"}, False, "not_yet_a_pupil",
                 id="on roll today but Bromcom still says Accepted"),
    pytest.param("Accepted", {"StartDate": "2025-09-01", "EndDate": "2026-07-22"}, False, "not_yet_a_pupil",
                 id="a former pupil's ID is never sent as a pre-admission"),
    pytest.param("Accepted", {"StartDate": "2027-09-01"}, True, None,
                 id="Accepted and already in Students for September"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "pupil", "sent", "rule"), CASES)
def test_only_accepted_applicants_not_yet_on_roll(status: str | None, pupil: dict[str, Any] | None, sent: bool,
                                                  rule: str | None) -> None:  # fmt: skip
    students = [] if pupil is None else [student(3001, YearGroup="R", **pupil)]
    result = run("preadmissions", bromcom(PreAdmissionStudents=[preadmission(3001, ApplicationStatus=status)],
                                          Students=students))  # fmt: skip
    assert [r["mis_id"] for r in result.records] == (["3001"] if sent else [])
    assert result.left_out == {
        "accepted": int(rule == "accepted"),
        "not_yet_a_pupil": int(rule == "not_yet_a_pupil"),
    }


def test_admitted_today_is_one_record_a_pupil() -> None:
    # The first day: Students has the child on roll and PreAdmissionStudents still has them.
    for status in ("Accepted", "Admitted"):
        data = bromcom(
            Students=[
                student(
                    3001,
                    FirstName="Freya",
                    LastName="Morgan",
                    YearGroup="R",
                    StartDate="2026-11-28",
                )
            ],
            PreAdmissionStudents=[preadmission(3001, ApplicationStatus=status)],
        )
        made = [(r["type"], r["mis_id"]) for t in run_all(data) for r in t.records]
        assert made == [("pupil", "3001")], status


def test_the_whole_pre_admission_record() -> None:
    data = bromcom(
        PreAdmissionStudents=[preadmission(3003, UPN=None, AdmissionNumber=None, FirstName="Maja", LastName="Nowak",
                                           PreferredFirstName="Maya", DateOfBirth="2023-07-07")],
        StudentContacts=[contact(3003, 5020, 1)],
        People=[person(5020)],
        Emails=[email(5020, "zofia.nowak@example.com")],
        PersonCommunications=[phone(5020, "07700 900120")],
    )  # fmt: skip
    fields = record("preadmissions", data)
    assert fields == {
        "upn": None, "admission_number": None,
        "forename": "Maya", "surname": "Nowak", "legal_forename": "Maja", "legal_surname": "Nowak",
        "dob": "2023-07-07",  # written 2023-07-07T00:00:00+01:00 (BST)
        "gender": "F", "year_code": "R",
        "fsm": False, "fsm_start": None, "fsm_end": None,
        "payer_email": "zofia.nowak@example.com", "payer_mobile": "07700 900120", "dietary": [],
        "admission_date": "2027-09-01",
    }  # fmt: skip
    assert tuple(fields) == RECORD_FIELDS["preadmission"] and "reg_group" not in fields


def test_admission_number_keeps_its_leading_zeros() -> None:
    data = bromcom(PreAdmissionStudents=[preadmission(3001, AdmissionNumber="02701")])
    assert record("preadmissions", data)["admission_number"] == "02701"
