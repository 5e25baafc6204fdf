"""engine/transform/transform.py with the shipped mappings: Bromcom rows in, ParentPay records out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.errors import BromcomDataError
from engine.sources import Table
from engine.transform.functions import MappingFunctions
from engine.transform.mapping import load_mappings
from engine.transform.transform import Documents, join_key, transform
from tests.conftest import FIXTURE_SETTINGS

TODAY = dt.date(2026, 11, 28)
SETTINGS = FIXTURE_SETTINGS


def d(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def student(sid: int, **over: Any) -> dict[str, Any]:
    row = {
        "StudentID": sid,
        "PersonID": sid,
        "UPN": f"A{sid:012d}",
        "AdmissionNumber": f"{sid:06d}",
        "FirstName": "Anna",
        "LastName": "Smith",
        "PreferredFirstName": None,
        "PreferredLastName": None,
        "DateOfBirth": d("2020-03-01T00:00:00"),
        "Gender": "F",
        "YearGroup": "1",
        "TutorGroup": "1A",
        "StartDate": d("2025-09-01T00:00:00"),
        "EndDate": None,
        "EnrolmentStatus": "C",
        "DataProcessingConsent": True,
    }
    row.update(over)
    return row


def contact(sid: int, pid: int, priority: int, **over: Any) -> dict[str, Any]:
    row = {
        "StudentID": sid,
        "ContactPersonID": pid,
        "Priority": priority,
        "ParentalResponsibility": True,
        "CourtOrder": False,
        "StartDate": None,
        "EndDate": None,
    }
    row.update(over)
    return row


def tables(students: list[dict[str, Any]], **others: list[dict[str, Any]]) -> dict[str, Table]:
    names = [
        "StudentContacts",
        "People",
        "Emails",
        "PersonCommunications",
        "StudentMeals",
        "PersonMedicalConditions",
    ]
    out = {"Students": Table("Students", {}, students)}
    for name in names:
        out[name] = Table(name, {}, others.get(name, []))
    return out


def run(data: dict[str, Table], consent: bool = False, **settings: Any) -> Any:
    [mapping] = load_mappings(["pupils"])
    functions = MappingFunctions(today=TODAY, settings={**SETTINGS, **settings})
    return transform(mapping, data, functions=functions, consent_required=consent)


def only(data: dict[str, Table], **settings: Any) -> dict[str, Any]:
    [record] = run(data, **settings).records
    return record["fields"]


def test_preferred_names_fall_back_to_legal_ones_each_on_its_own() -> None:
    fields = only(tables([student(1, PreferredFirstName="Annie")]))
    assert (fields["forename"], fields["surname"]) == ("Annie", "Smith")
    assert (fields["legal_forename"], fields["legal_surname"]) == ("Anna", "Smith")


def test_bst_date_of_birth_stays_on_its_day() -> None:
    assert only(tables([student(1, DateOfBirth=d("2016-06-02T00:00:00"))]))["dob"] == "2016-06-02"


def test_admission_number_keeps_leading_zeros() -> None:
    assert only(tables([student(1, AdmissionNumber="000123")]))["admission_number"] == "000123"


@pytest.mark.parametrize(
    ("over", "rule"),
    [
        ({"EndDate": d("2026-11-27T00:00:00")}, "on_roll"),
        ({"StartDate": d("2026-11-29T00:00:00")}, "on_roll"),
        ({"EnrolmentStatus": "S"}, "on_roll"),
        ({"EnrolmentStatus": "G"}, "on_roll"),
    ],
)
def test_not_on_roll_is_left_out(over: dict[str, Any], rule: str) -> None:
    result = run(tables([student(1, **over)]))
    assert result.records == [] and result.left_out[rule] == 1


def test_leaving_today_is_still_on_roll() -> None:
    assert only(tables([student(1, EndDate=d("2026-11-28T00:00:00"))]))["surname"] == "Smith"


def test_subsidiary_dual_registration_included_when_the_school_says() -> None:
    assert (
        len(
            run(
                tables([student(1, EnrolmentStatus="S")]),
                include_enrolment_statuses=["C", "M", "S"],
            ).records
        )
        == 1
    )


def test_consent_school_leaves_out_people_without_consent() -> None:
    result = run(tables([student(1), student(2, DataProcessingConsent=False)]), consent=True)
    assert [r["mis_id"] for r in result.records] == ["1"] and result.no_consent == 1


def test_payer_skips_a_court_order_at_priority_one() -> None:
    data = tables(
        [student(1)],
        StudentContacts=[contact(1, 101, 1, CourtOrder=True), contact(1, 102, 2)],
        Emails=[
            {"PersonID": 101, "EmailAddress": "banned@example.org", "Priority": 1},
            {"PersonID": 102, "EmailAddress": "second@example.org", "Priority": 2},
            {"PersonID": 102, "EmailAddress": "first@example.org", "Priority": 1},
        ],
        PersonCommunications=[
            {
                "PersonID": 102,
                "CommunicationTypeDescription": "Home Telephone",
                "Value": "01632 960000",
                "Priority": 1,
            },
            {
                "PersonID": 102,
                "CommunicationTypeDescription": "Mobile",
                "Value": "07700 900123",
                "Priority": 2,
            },
        ],
    )
    fields = only(data)
    assert fields["payer_email"] == "first@example.org"
    assert fields["payer_mobile"] == "07700 900123"


def test_no_payer_without_parental_responsibility() -> None:
    data = tables(
        [student(1)],
        StudentContacts=[contact(1, 101, 1, ParentalResponsibility=False)],
        Emails=[{"PersonID": 101, "EmailAddress": "x@example.org", "Priority": 1}],
    )
    assert only(data)["payer_email"] is None


@pytest.mark.parametrize(
    ("period", "fsm", "start", "end"),
    [
        ((d("2026-09-01T00:00:00"), None), True, "2026-09-01", None),
        (
            (d("2026-09-01T00:00:00"), d("2026-11-27T00:00:00")),
            False,
            None,
            None,
        ),  # ended yesterday
        ((d("2026-09-01T00:00:00"), d("2026-11-28T00:00:00")), True, "2026-09-01", "2026-11-28"),
    ],
)
def test_fsm_from_the_period_covering_today(
    period: tuple[Any, Any], fsm: bool, start: Any, end: Any
) -> None:
    data = tables(
        [student(1)],
        StudentMeals=[
            {"StudentID": 1, "FSMType": "FSM", "StartDate": period[0], "EndDate": period[1]}
        ],
    )
    fields = only(data)
    assert (fields["fsm"], fields["fsm_start"], fields["fsm_end"]) == (fsm, start, end)


def test_dietary_only_from_the_allow_list_sorted() -> None:
    data = tables(
        [student(1)],
        PersonMedicalConditions=[
            {
                "PersonID": 1,
                "MedicalConditionDescription": "nut allergy",
                "StartDate": None,
                "EndDate": None,
            },
            {
                "PersonID": 1,
                "MedicalConditionDescription": "Asthma",
                "StartDate": None,
                "EndDate": None,
            },
            {
                "PersonID": 1,
                "MedicalConditionDescription": "Coeliac Disease",
                "StartDate": None,
                "EndDate": None,
            },
        ],
    )
    assert only(data, dietary_allow=["Nut Allergy", "Coeliac Disease"])["dietary"] == [
        "Coeliac Disease",
        "nut allergy",
    ]


def test_a_bad_year_code_is_sent_on_as_written() -> None:
    # Never trimmed or guessed: the SQL check year_code_not_parentpay holds it back (test_checks).
    assert only(tables([student(1, YearGroup="Year 1")]))["year_code"] == "Year 1"


def test_year_code_alias_fixes_it() -> None:
    assert (
        only(tables([student(1, YearGroup="Year 1")]), year_code_aliases={"Year 1": "1"})[
            "year_code"
        ]
        == "1"
    )


def _payer_email(student_id: Any, contact_student_id: Any) -> Any:
    data = tables(
        [student(1, StudentID=student_id)],
        StudentContacts=[contact(contact_student_id, 101, 1)],
        Emails=[{"PersonID": 101, "EmailAddress": "payer@example.org", "Priority": 1}],
    )
    return only(data)["payer_email"]


@pytest.mark.parametrize(
    ("student_id", "contact_student_id"),
    [(1001, 1001), ("1001", 1001), (1001, "1001"), ("1001", "1001"), (0, "0"), (-7, "-7")],
)
def test_join_keys_holding_the_same_number_join_whatever_their_type(
    student_id: Any, contact_student_id: Any
) -> None:
    assert _payer_email(student_id, contact_student_id) == "payer@example.org"


@pytest.mark.parametrize(
    ("student_id", "contact_student_id"),
    [("01001", 1001), (1001, "01001"), (" 1001", 1001), ("1001.0", 1001), (1, True), ("1", True)],
)
def test_join_keys_that_only_look_alike_do_not_join(
    student_id: Any, contact_student_id: Any
) -> None:
    assert _payer_email(student_id, contact_student_id) is None


def test_join_key_compares_whole_numbers_only() -> None:
    assert join_key("1001") == join_key(1001) == 1001
    assert join_key("01001") == "01001" and join_key("1e3") == "1e3"
    assert join_key(True) != join_key(1)
    assert join_key(None) is None


# -- dates Bromcom sent as text that is not a date --------------------------------------------


def test_a_date_of_birth_that_is_not_a_date_is_kept_as_sent_for_its_check() -> None:
    # A DateOfBirth column declared xs:string: the ISO ones are read, the others kept as sent,
    # so the check not_a_date holds back those records alone and names their value.
    rows = [
        student(1, DateOfBirth="2016-06-02T00:00:00+01:00"),
        student(2, DateOfBirth="31/02/2015"),
        student(3, DateOfBirth="2015-13-01"),
    ]
    records = run(tables(rows)).records
    assert [r["fields"]["dob"] for r in records] == ["2016-06-02", "31/02/2015", "2015-13-01"]


@pytest.mark.parametrize(
    ("over", "value"),
    [
        ({"StartDate": "01/09/2025"}, "01/09/2025"),  # decides who is on roll
        ({"EndDate": "2026-13-01"}, "2026-13-01"),
    ],
)
def test_a_start_or_end_that_is_not_a_date_fails_the_school_naming_the_record(
    over: dict[str, Any], value: str
) -> None:
    with pytest.raises(BromcomDataError) as caught:
        run(tables([student(1), student(2, **over)]))
    message = str(caught.value)
    assert message.startswith(f"Bromcom sent {value!r} in the data of record 2, where ")
    assert "mappings/pupils.yaml:" in message and "current(StartDate, EndDate)" in message
    assert "This is Bromcom data to correct" in message
    assert caught.value.rows == ["2"] and caught.value.exit_code == 1


def test_a_contacts_date_that_is_not_a_date_names_the_pupil() -> None:
    data = tables([student(1)], StudentContacts=[contact(1, 50, 1, StartDate="2024/09/01")])
    with pytest.raises(BromcomDataError, match="'2024/09/01' in the data of record 1"):
        run(data)


def _school_of_two() -> dict[str, Table]:
    """Two pupils sharing a payer, one applicant admitted as the second, and one staff member."""
    data = tables(
        [student(1), student(2, StartDate=d("2026-12-01T00:00:00"))],
        StudentContacts=[contact(1, 101, 1), contact(2, 101, 1), contact(2, 102, 2)],
        People=[{"PersonID": 101, "LastName": "Smith"}, {"PersonID": 102, "LastName": "Jones"}],
        Emails=[{"PersonID": 101, "EmailAddress": "payer@example.org", "Priority": 1}],
        StudentMeals=[
            {"StudentID": 1, "StartDate": d("2026-09-01T00:00:00"), "EndDate": None},
        ],
    )
    applicant = {**student(2), "ApplicationStatus": "Admitted"}
    applicant["AdmissionDate"] = d("2026-12-01T00:00:00")
    data["PreAdmissionStudents"] = Table("PreAdmissionStudents", {}, [applicant])
    staff = {"StaffID": 7, "PersonID": 101, "FirstName": "Sam", "LastName": "Smith"}
    data["Staff"] = Table("Staff", {}, [staff])
    return data


def test_mappings_sharing_a_runs_documents_neither_change_them_nor_see_each_others_rules() -> None:
    # The pipeline maps pupils, staff and pre-admissions from one Documents: each mapping's
    # lets and joins go on its own copies, so the shared rows stay as Bromcom sent them and each
    # mapping gives what it gives alone (pre-admissions join Students, which pupils map).
    mappings = load_mappings(["pupils", "staff", "preadmissions"])
    functions = MappingFunctions(today=TODAY, settings=SETTINGS)
    data = _school_of_two()
    alone = [transform(m, data, functions=functions, consent_required=False) for m in mappings]
    shared = Documents(data)
    together = [
        transform(m, data, functions=functions, consent_required=False, documents=shared)
        for m in mappings
    ]
    assert [r.records for r in together] == [r.records for r in alone]
    assert all(r.records for r in together)
    fresh = Documents(data)
    assert shared.rows == {name: fresh.of(name) for name in shared.rows}
    assert "person" not in shared.of("StudentContacts")[0]


def test_documents_turn_only_dates_into_text_and_leave_a_row_without_one_as_it_is() -> None:
    columns = {"StudentID": "int", "StartDate": "dateTime", "Born": "date"}
    rows: list[dict[str, Any]] = [
        {"StudentID": 1, "StartDate": d("2025-09-01T08:30:00"), "Born": dt.date(2016, 6, 2)},
        {"StudentID": 2},
        {"StudentID": 3, "Undeclared": d("2025-09-01T00:00:00")},
    ]
    documents = Documents({"Students": Table("Students", columns, rows)}).of("Students")
    assert documents == [
        {"StudentID": 1, "StartDate": "2025-09-01T08:30:00", "Born": "2016-06-02"},
        {"StudentID": 2},
        {"StudentID": 3, "Undeclared": "2025-09-01T00:00:00"},
    ]
    assert rows[0]["StartDate"] == d("2025-09-01T08:30:00")
