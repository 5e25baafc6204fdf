"""Staff (docs/rules.md, Records and identity; docs/parentpay-api.md): mis_id is staff_id_prefix + StaffID,
staff are current on the same dates as pupils, and a record is title, preferred-or-legal names,
their own lowest-priority email and lowest-priority Mobile."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import BromcomDataError
from engine.records import RECORD_FIELDS
from tests.rules.helpers import (
    TOMORROW,
    YESTERDAY,
    bromcom,
    email,
    phone,
    record,
    run,
    staff,
    student,
)


@pytest.mark.parametrize(
    ("prefix", "mis_id"),
    [("", "2001"), ("3", "32001"), ("S-", "S-2001"), ("00", "002001")],
    ids=["no prefix", "the '3' some MIS use", "letters", "zeros are kept"],
)
def test_staff_id_prefix(prefix: str, mis_id: str) -> None:
    assert [
        r["mis_id"]
        for r in run("staff", bromcom(Staff=[staff(2001)]), staff_id_prefix=prefix).records
    ] == [mis_id]


def test_the_prefix_keeps_staff_apart_from_a_pupil_with_the_same_number() -> None:
    data = bromcom(Students=[student(2001)], Staff=[staff(2001)])
    pupils, staff_ids = (run(o, data, staff_id_prefix="3").records for o in ("pupils", "staff"))
    assert [r["mis_id"] for r in pupils] == ["2001"] and [r["mis_id"] for r in staff_ids] == [
        "32001"
    ]


# (Staff row changes, current?)
DATES = [
    pytest.param({}, True, id="started years ago, no end"),
    pytest.param({"StartDate": "2026-11-28"}, True, id="starts today"),
    pytest.param({"StartDate": TOMORROW}, False, id="starts tomorrow"),
    pytest.param({"StartDate": None, "EndDate": None}, True, id="no dates"),
    pytest.param({"EndDate": "2026-11-28"}, True, id="leaves today"),
    pytest.param({"EndDate": YESTERDAY}, False, id="left yesterday"),
    pytest.param({"EndDate": "2026-08-31"}, False, id="left in the summer"),
]


@pytest.mark.parametrize(("changes", "current"), DATES)
def test_staff_current_on_the_same_dates_as_pupils(changes: dict[str, Any], current: bool) -> None:
    result = run("staff", bromcom(Staff=[staff(2001, **changes)]))
    assert len(result.records) == (1 if current else 0)
    assert result.left_out == {"current": 0 if current else 1}


# (Staff row changes, Emails, PersonCommunications, the whole record)
RECORDS = [
    pytest.param(
        {"Title": "Mr", "FirstName": "Dafydd", "LastName": "Llewellyn", "PreferredFirstName": "Dai"},
        [email(2001, "d.llewellyn@oakfield.example.org", 1, "Work"), email(2001, "dai@example.com", 2)],
        [phone(2001, "0113 496 0000", 1, "Work Telephone"), phone(2001, "07700 900202", 2)],
        {"title": "Mr", "forename": "Dai", "surname": "Llewellyn", "email": "d.llewellyn@oakfield.example.org",
         "mobile": "07700 900202"},
        id="preferred name, first email, the Mobile"),
    pytest.param(
        {"Title": "Ms", "FirstName": "Priya", "LastName": "Patel", "PreferredLastName": "Shah"},
        [email(2001, "p.patel@oakfield.example.org")], [],
        {"title": "Ms", "forename": "Priya", "surname": "Shah", "email": "p.patel@oakfield.example.org",
         "mobile": None},
        id="preferred last name only, no mobile"),
    pytest.param(
        {"Title": None}, [], [phone(2001, "0113 496 0101", 1, "Home Telephone")],
        {"title": None, "forename": "Sarah", "surname": "Bennett", "email": None, "mobile": None},
        id="no title, no email, a landline is not a mobile"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "emails", "phones", "expected"), RECORDS)
def test_the_whole_staff_record(changes: dict[str, Any], emails: list[Any], phones: list[Any],
                                expected: dict[str, Any]) -> None:  # fmt: skip
    fields = record(
        "staff", bromcom(Staff=[staff(2001, **changes)], Emails=emails, PersonCommunications=phones)
    )
    assert fields == expected
    assert tuple(fields) == RECORD_FIELDS["staff"]


def test_a_row_without_a_staff_id_stops_the_run_rather_than_uploading_a_made_up_id() -> None:
    with pytest.raises(BromcomDataError, match="Bromcom sent a Staff row with no ID"):
        run("staff", bromcom(Staff=[staff(2001, StaffID=None)]), staff_id_prefix="3")
