"""Names and formats (docs/rules.md, docs/parentpay-api.md): preferred names falling back to legal ones each
on its own, dates YYYY-MM-DD as Bromcom wrote them, gender M/F/X, IDs and admission numbers as
text with their leading zeros. Nothing is trimmed, guessed or blanked to fit."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import BromcomDataError
from engine.records import RECORD_FIELDS
from tests.rules.helpers import bromcom, contact, email, person, phone, record, run, student

NAMES = [
    # (Students row changes, forename, surname, legal_forename, legal_surname)
    pytest.param({}, "Anna", "Smith", "Anna", "Smith", id="no preferred names"),
    pytest.param({"PreferredFirstName": "Annie"}, "Annie", "Smith", "Anna", "Smith",
                 id="preferred first name only"),
    pytest.param({"PreferredLastName": "Jones"}, "Anna", "Jones", "Anna", "Smith",
                 id="preferred last name only"),
    pytest.param({"PreferredFirstName": "Alex", "PreferredLastName": "Whitfield-Ray"}, "Alex",
                 "Whitfield-Ray", "Anna", "Smith", id="both preferred"),
    pytest.param({"PreferredFirstName": ""}, "Anna", "Smith", "Anna", "Smith",
                 id="an empty preferred name falls back"),
    pytest.param({"FirstName": "Siân", "LastName": "O'Brien"}, "Siân", "O'Brien", "Siân", "O'Brien",
                 id="accents and apostrophes kept"),
    pytest.param({"FirstName": "Oliver", "LastName": "Featherstonehaugh-Cholmondeley-Wolstenholme"},
                 "Oliver", "Featherstonehaugh-Cholmondeley-Wolstenholme", "Oliver",
                 "Featherstonehaugh-Cholmondeley-Wolstenholme", id="a 43-character surname is not cut"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "forename", "surname", "legal_forename", "legal_surname"), NAMES
)
def test_preferred_names_fall_back_to_legal_ones_each_on_its_own(
    changes: dict[str, Any], forename: str, surname: str, legal_forename: str, legal_surname: str
) -> None:
    fields = record("pupils", bromcom(Students=[student(1001, **changes)]))
    assert (fields["forename"], fields["surname"]) == (forename, surname)
    assert (fields["legal_forename"], fields["legal_surname"]) == (legal_forename, legal_surname)


DATES = [
    # (DateOfBirth as the school typed it, dob sent). The DataSet carries the server's offset:
    # +01:00 in British Summer Time. Converting to UTC would send the day before.
    pytest.param("2019-06-02T00:00:00", "2019-06-02", id="BST date of birth (+01:00)"),
    pytest.param("2016-11-20T00:00:00", "2016-11-20", id="GMT date of birth (+00:00)"),
    pytest.param("2020-03-29T00:00:00", "2020-03-29", id="the day the clocks go forward"),
    pytest.param("2020-02-29T00:00:00", "2020-02-29", id="29 February"),
    pytest.param("2015-09-01T23:30:00", "2015-09-01", id="a time late in the day keeps its day"),
    pytest.param(None, None, id="no date of birth"),
]


@pytest.mark.parametrize(("written", "sent"), DATES)
def test_dates_are_the_day_as_written(written: str | None, sent: str | None) -> None:
    assert record("pupils", bromcom(Students=[student(1001, DateOfBirth=written)]))["dob"] == sent


@pytest.mark.parametrize(
    ("gender", "sent"),
    [("M", "M"), ("F", "F"), ("X", "X"), (None, None),
     # Not a ParentPay value: sent as Bromcom holds it, so ParentPay refuses the record and the
     # report names it, rather than bromsync guessing or blanking it (docs/cli.md).
     ("Male", "Male")],
)  # fmt: skip
def test_gender_is_sent_as_bromcom_codes_it(gender: str | None, sent: str | None) -> None:
    assert record("pupils", bromcom(Students=[student(1001, Gender=gender)]))["gender"] == sent


@pytest.mark.parametrize(
    ("admission_number", "upn"),
    [
        ("000123", "K383200126014"),
        ("0042", None),
        (None, "A383200125002"),
        ("2204", "J383200122011"),
    ],
)
def test_admission_number_and_upn_are_text_with_leading_zeros(
    admission_number: str | None, upn: str | None
) -> None:
    fields = record(
        "pupils", bromcom(Students=[student(1011, AdmissionNumber=admission_number, UPN=upn)])
    )
    assert (fields["admission_number"], fields["upn"]) == (admission_number, upn)


def test_the_whole_pupil_record() -> None:
    data = bromcom(
        Students=[student(1011, UPN="K383200126014", AdmissionNumber="000123", FirstName="Evie",
                          LastName="Davies", PreferredFirstName="Evie-Rose", DateOfBirth="2022-08-31",
                          YearGroup="R", TutorGroup="RL", StartDate="2026-09-03")],
        StudentContacts=[contact(1011, 5016, 1, StartDate="2026-09-03")],
        People=[person(5016)],
        Emails=[email(5016, "cerys.davies@example.com")],
        PersonCommunications=[phone(5016, "07700 900116")],
    )  # fmt: skip
    fields = record("pupils", data)
    assert fields == {
        "upn": "K383200126014", "admission_number": "000123",
        "forename": "Evie-Rose", "surname": "Davies", "legal_forename": "Evie", "legal_surname": "Davies",
        "dob": "2022-08-31", "gender": "F", "year_code": "R", "reg_group": "RL",
        "fsm": False, "fsm_start": None, "fsm_end": None,
        "payer_email": "cerys.davies@example.com", "payer_mobile": "07700 900116", "dietary": [],
    }  # fmt: skip
    assert (
        tuple(fields) == RECORD_FIELDS["pupil"]
    )  # exactly docs/parentpay-api.md's fields, in order


def test_mis_id_is_the_student_id_as_text() -> None:
    result = run("pupils", bromcom(Students=[student(1001), student(42)]))
    assert [r["mis_id"] for r in result.records] == ["1001", "42"]


def test_a_row_without_a_student_id_stops_the_run_rather_than_uploading_null() -> None:
    with pytest.raises(BromcomDataError, match="Bromcom sent a Students row with no ID"):
        run("pupils", bromcom(Students=[student(1001, StudentID=None)]))
