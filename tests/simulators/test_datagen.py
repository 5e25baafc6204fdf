"""The data generator (simulators/datagen) and the frozen fixture school (tests/fixtures)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from simulators.datagen import (
    ENTITIES,
    ENTITY_COLUMNS,
    cohort_range,
    dump_entity,
    generate_school,
    generate_trust,
    school_year_of,
    upn_check_letter,
    write_school_file,
    year_index,
)
from tests.fixtures import oakfield

TODAY = dt.date(2026, 11, 28)
REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "bromcom" / "20001"
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2})?$")
UPN_RE = re.compile(r"^[A-HJ-NP-RT-Z]\d{12}$")


def load(folder: Path, entity: str) -> list[dict[str, Any]]:
    return json.loads((folder / f"{entity}.json").read_text(encoding="utf-8"))["rows"]


def make(root: Path, size: str, seed: int = 7, org_id: int = 40001, **kw: Any) -> Path:
    generate_school(
        root, org_id=org_id, seed=seed, size=size, today=TODAY, username="u", password="p", **kw
    )
    return root / str(org_id)


@pytest.fixture(scope="module")
def schools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One school of each size, generated once for the module; the secondary is timed."""
    root = tmp_path_factory.mktemp("data")
    out: dict[str, Any] = {
        "tiny": make(root, "tiny", org_id=1),
        "primary": make(root, "primary", org_id=2),
    }
    started = time.perf_counter()
    out["secondary"] = make(root, "secondary", org_id=3)
    out["secondary_seconds"] = time.perf_counter() - started
    return out


# -- format and determinism ---------------------------------------------------------------


def test_same_seed_and_today_give_identical_bytes(tmp_path: Path) -> None:
    a, b, c = (
        make(tmp_path / name, "primary", seed=seed)
        for name, seed in (("a", 11), ("b", 11), ("c", 12))
    )
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted([f"{e}.json" for e in ENTITIES] + ["account.json"])
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (a / "Students.json").read_bytes() != (c / "Students.json").read_bytes()


@pytest.mark.parametrize("size", ["tiny", "primary", "secondary"])
def test_files_follow_the_simulator_format(schools: dict[str, Any], size: str) -> None:
    folder = schools[size]
    for entity in ENTITIES:
        text = (folder / f"{entity}.json").read_text(encoding="utf-8")
        data = json.loads(text)
        assert set(data) == {"columns", "rows"}
        assert [tuple(c) for c in data["columns"]] == list(ENTITY_COLUMNS[entity])
        types = dict(ENTITY_COLUMNS[entity])
        for row in data["rows"]:
            assert set(row) <= set(types), (entity, row)
            for name, value in row.items():
                kind = types[name]
                if kind == "int":
                    assert type(value) is int, (entity, name, value)
                elif kind == "boolean":
                    assert type(value) is bool, (entity, name, value)
                elif kind == "dateTime":
                    assert isinstance(value, str) and DATE_RE.match(value), (entity, name, value)
                else:
                    assert isinstance(value, str), (entity, name, value)
        # Sorted, compact and UTF-8 (no \u escapes): re-dumping the rows gives the same text.
        assert dump_entity(entity, _as_dates(entity, data["rows"])) == text
        assert "\\u" not in text


def _as_dates(entity: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    types = dict(ENTITY_COLUMNS[entity])
    return [
        {
            k: (dt.datetime.fromisoformat(v) if "T" in v else dt.date.fromisoformat(v))
            if types[k] == "dateTime"
            else v
            for k, v in row.items()
        }
        for row in rows
    ]


def test_columns_agree_with_the_bromcom_simulator_catalogue() -> None:
    from simulators.bromcom.catalogue import CATALOGUE

    assert {e: list(c) for e, c in ENTITY_COLUMNS.items()} == CATALOGUE


def test_bromcom_simulator_store_loads_a_generated_school(schools: dict[str, Any]) -> None:
    from simulators.bromcom.store import DataStore

    store = DataStore(schools["primary"].parent)
    account = store.account(2)
    assert account is not None and account.username == "u"
    assert store.permitted(2, account) == list(ENTITIES)
    assert len(store.entity(2, "Students").rows) == 210


def test_account_json_and_permitted(tmp_path: Path) -> None:
    folder = make(tmp_path, "tiny", permitted=["Students", "People", "TimeTable"])
    account = json.loads((folder / "account.json").read_text())
    assert account == {
        "username": "u",
        "password": "p",
        "permitted": ["Students", "People", "TimeTable"],
    }
    assert (folder / "Staff.json").is_file()  # the data is there; the account may not read it
    with pytest.raises(ValueError, match="Studnets"):
        make(tmp_path, "tiny", permitted=["Studnets"])


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size"):
        make(tmp_path, "huge")
    with pytest.raises(TypeError, match="today"):
        generate_school(
            tmp_path,
            org_id=1,
            seed=1,
            size="tiny",
            today=dt.datetime(2026, 1, 1),
            username="u",
            password="p",
        )


# -- sizes and identity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "pupils", "staff", "pre", "years"),
    [
        ("tiny", (12, 12), (4, 4), (3, 3), {"R", "1", "2", "3", "4", "5", "6"}),
        ("primary", (210, 210), (22, 30), (27, 33), {"R", "1", "2", "3", "4", "5", "6"}),
        ("secondary", (2000, 2000), (165, 195), (285, 315), {str(n) for n in range(7, 14)}),
    ],
)
def test_sizes(
    schools: dict[str, Any],
    size: str,
    pupils: tuple[int, int],
    staff: tuple[int, int],
    pre: tuple[int, int],
    years: set[str],
) -> None:
    folder = schools[size]
    students = load(folder, "Students")
    assert pupils[0] <= len(students) <= pupils[1]
    assert staff[0] <= len(load(folder, "Staff")) <= staff[1]
    assert pre[0] <= len(load(folder, "PreAdmissionStudents")) <= pre[1]
    assert {s["YearGroup"] for s in students} == years
    if size == "secondary":
        by_year = Counter(s["YearGroup"] for s in students)
        assert by_year["12"] < by_year["11"]  # the sixth form is smaller
        assert schools["secondary_seconds"] < 5


@pytest.mark.parametrize("size", ["tiny", "primary", "secondary"])
def test_one_person_id_per_person(schools: dict[str, Any], size: str) -> None:
    folder = schools[size]
    pupils = {r["StudentID"] for r in load(folder, "Students")}
    pre = {r["StudentID"] for r in load(folder, "PreAdmissionStudents")}
    staff = {r["StaffID"] for r in load(folder, "Staff")}
    contacts = {r["ContactPersonID"] for r in load(folder, "StudentContacts")}
    emergency = {r["ContactPersonID"] for r in load(folder, "EmployeeContacts")}
    groups = [pupils, pre, staff, contacts, emergency]
    assert sum(map(len, groups)) == len(set().union(*groups))  # disjoint
    for entity, key in (
        ("Students", "StudentID"),
        ("PreAdmissionStudents", "StudentID"),
        ("Staff", "StaffID"),
    ):
        assert all(r[key] == r["PersonID"] for r in load(folder, entity))
    people = [r["PersonID"] for r in load(folder, "People")]
    assert len(people) == len(set(people))
    assert set(people) == set().union(*groups)  # every one of them has a People row
    for entity in (
        "Emails",
        "PersonCommunications",
        "PersonAddress",
        "Nationalities",
        "PersonMedicalConditions",
        "CollectionAssociates",
    ):
        assert {r["PersonID"] for r in load(folder, entity)} <= set(people), entity
    linked = {r["StudentID"] for r in load(folder, "StudentContacts")}
    assert linked <= pupils | pre


@pytest.mark.parametrize("size", ["tiny", "primary", "secondary"])
def test_dates_of_birth_match_year_group_cohorts(schools: dict[str, Any], size: str) -> None:
    year = school_year_of(TODAY)
    for entity, school_year in (("Students", year), ("PreAdmissionStudents", year + 1)):
        for row in load(schools[size], entity):
            index = year_index(row["YearGroup"])
            assert index is not None
            first, last = cohort_range(index, school_year)
            assert first <= dt.date.fromisoformat(row["DateOfBirth"]) <= last, row


def test_cohort_range_follows_england_cut_off() -> None:
    assert cohort_range(0, 2026) == (dt.date(2021, 9, 1), dt.date(2022, 8, 31))
    assert cohort_range(7, 2026) == (dt.date(2014, 9, 1), dt.date(2015, 8, 31))
    assert school_year_of(dt.date(2026, 8, 31)) == 2025
    assert school_year_of(dt.date(2026, 9, 1)) == 2026


# -- realism ------------------------------------------------------------------------------


def test_secondary_names_and_identifiers_are_realistic(schools: dict[str, Any]) -> None:
    folder = schools["secondary"]
    students = load(folder, "Students")
    people = load(folder, "People")
    all_names = " ".join(
        f"{p['FirstName']} {p.get('MiddleName', '')} {p['LastName']}" for p in people
    )
    assert re.search(r"[éëâáíóúñçłşı]", all_names)
    assert "'" in all_names and re.search(r"\w-\w", all_names)
    full = [
        " ".join(filter(None, (s["FirstName"], s.get("MiddleName"), s["LastName"])))
        for s in students
    ]
    assert max(map(len, full)) >= 40
    preferred = sum("PreferredFirstName" in s for s in students)
    assert 0.02 * len(students) < preferred < 0.2 * len(students)
    assert sum("MiddleName" not in s for s in students) > 0.2 * len(students)
    upns = [s["UPN"] for s in students if "UPN" in s]
    assert len(upns) == len(set(upns)) > 0.98 * len(students)
    assert all(UPN_RE.match(u) and upn_check_letter(u[1:]) == u[0] for u in upns)
    numbers = [s["AdmissionNumber"] for s in students]
    assert len(numbers) == len(set(numbers)) and all(n.startswith("0") for n in numbers)
    assert Counter(s["Gender"] for s in students).keys() == {"M", "F", "X"}
    assert all(re.fullmatch(r"\d{1,2}[A-Z]{2,3}\d?", s["TutorGroup"]) for s in students)
    assert all(s["TutorGroup"].startswith(s["YearGroup"]) for s in students)


def test_secondary_enrolments_dates_and_consent(schools: dict[str, Any]) -> None:
    folder = schools["secondary"]
    students = load(folder, "Students")
    statuses = Counter(s["EnrolmentStatus"] for s in students)
    assert set(statuses) == {"C", "M", "S", "G"} and statuses["C"] > 0.9 * len(students)
    today = TODAY.isoformat()
    assert any(s.get("EndDate", "9999") < today for s in students)  # leavers
    assert any(s["StartDate"] > today for s in students)  # future starters
    on_roll = [s for s in students if s["StartDate"] <= today and "EndDate" not in s]
    assert len(on_roll) > 0.95 * len(students)
    september = sum(s["StartDate"][5:7] == "09" for s in students)
    assert september > 0.8 * len(students)
    consent = Counter(s["DataProcessingConsent"] for s in students)
    assert consent[True] > 0.85 * len(students) and consent[False] > 0
    enrolments = load(folder, "StudentEnrolments")
    assert [
        (e["StudentID"], e["EnrolmentStatus"], e["StartDate"], e.get("EndDate")) for e in enrolments
    ] == [
        (s["StudentID"], s["EnrolmentStatus"], s["StartDate"], s.get("EndDate")) for s in students
    ]
    statuses_pre = Counter(r["ApplicationStatus"] for r in load(folder, "PreAdmissionStudents"))
    assert set(statuses_pre) == {"Applied", "Offered", "Accepted", "Admitted", "Withdrawn"}
    assert statuses_pre.most_common(1)[0][0] == "Accepted"
    staff = load(folder, "Staff")
    assert any(s.get("EndDate", "9999") < today for s in staff)
    assert len({s["StaffCode"] for s in staff}) == len(staff)


@pytest.mark.parametrize("size", ["primary", "secondary"])
def test_contacts_are_realistic_and_awkward(schools: dict[str, Any], size: str) -> None:
    folder = schools[size]
    pupils = {r["StudentID"] for r in load(folder, "Students")}
    links = load(folder, "StudentContacts")
    per_pupil = sum(r["StudentID"] in pupils for r in links) / len(pupils)
    assert 1.5 <= per_pupil <= 2.2
    parents = Counter(r["ContactPersonID"] for r in links if r["StudentID"] in pupils)
    assert any(n > 1 for n in parents.values())  # siblings share parents
    assert {r["Relationship"] for r in links} >= {"Mother", "Father", "Carer", "Grandparent"}
    court = [r for r in links if r["CourtOrder"]]
    assert court and any(r["Priority"] == 1 for r in court)
    assert any("EndDate" in r for r in links)
    by_pupil: dict[int, list[int]] = {}
    for r in links:
        by_pupil.setdefault(r["StudentID"], []).append(r["Priority"])
    assert all(sorted(p) == list(range(1, len(p) + 1)) for p in by_pupil.values())
    mobiles = [
        r["Value"]
        for r in load(folder, "PersonCommunications")
        if r["CommunicationTypeDescription"] == "Mobile"
    ]
    assert any(len(re.sub(r"\D", "", m)) > 15 for m in mobiles)
    assert sum(m.startswith("07700") for m in mobiles) > 0.5 * len(mobiles)
    with_email = {r["PersonID"] for r in load(folder, "Emails")}
    assert set(parents) - with_email  # some contacts have no e-mail


def test_meals_medical_groups_and_school(schools: dict[str, Any]) -> None:
    folder = schools["primary"]
    pupils = {r["StudentID"] for r in load(folder, "Students")}
    meals = load(folder, "StudentMeals")
    fsm = {r["StudentID"] for r in meals if r["StudentID"] in pupils}
    assert 0.12 <= len(fsm) / len(pupils) <= 0.3
    assert any("EndDate" not in r for r in meals)
    assert any(r.get("EndDate", "9999") < TODAY.isoformat() for r in meals)
    conditions = load(folder, "PersonMedicalConditions")
    assert {r["MedicalConditionDescription"] for r in conditions} & {"Nut Allergy", "Asthma"}
    assert load(folder, "StudentMealPatterns")
    kinds = Counter(r["CollectionTypeName"] for r in load(folder, "Collections"))
    assert kinds["YEARGRP"] == 7 and kinds["TUTORGRP"] == 7 and kinds["HOUSE"] and kinds["CLASS"]
    tutors = [
        r
        for r in load(folder, "CollectionExecutives")
        if r["CollectionRoleTypeDescription"] == "Main Tutor"
    ]
    assert len(tutors) == 7
    classes = {r["ClassID"] for r in load(folder, "SubjectClasses")}
    assert classes == {r["ClassID"] for r in load(folder, "Timetable")}
    school = load(folder, "School")
    assert len(school) == 1 and (school[0]["SchoolID"], school[0]["Phase"]) == (2, "Primary")
    assert re.fullmatch(r"\d{7}", school[0]["LAEstab"])


def test_trust_mixes_phases_with_distinct_schools(tmp_path: Path) -> None:
    summaries = generate_trust(
        tmp_path,
        count=3,
        seed=5,
        today=TODAY,
        first_org_id=50001,
        sizes=["primary", "tiny", "tiny"],
    )
    assert [s.org_id for s in summaries] == [50001, 50002, 50003]
    assert len({s.name for s in summaries}) == len({s.urn for s in summaries}) == 3
    assert len({s.username for s in summaries}) == 3
    for s in summaries:
        account = json.loads((tmp_path / str(s.org_id) / "account.json").read_text())
        assert (account["username"], account["password"]) == (s.username, s.password)
        assert s.counts["Students"] == len(load(tmp_path / str(s.org_id), "Students"))
        assert set(s.counts) == set(ENTITIES)
    mixed = generate_trust(tmp_path / "mix", count=2, seed=5, today=TODAY)
    assert [s.phase for s in mixed] == ["Primary", "Secondary"]


def test_school_file_is_valid(tmp_path: Path) -> None:
    summary = generate_school(
        tmp_path / "data",
        org_id=20002,
        seed=3,
        size="tiny",
        today=TODAY,
        username="parentpay_x",
        password="s3cret-value",
    )
    path = tmp_path / "schools" / "x.yaml"
    write_school_file(
        path,
        summary,
        url="http://127.0.0.1:8080/TPReadOnlyDataService.asmx",
        password_env="BROMCOM_PASSWORD_X",
        parentpay_site_id=5002,
        dietary_allow=["Nut Allergy"],
        year_code_aliases={"Year 1": "1"},
        staff_id_prefix="3",
    )
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and "s3cret-value" not in text
    data = yaml.safe_load(text)
    assert data["bromcom"] == {
        "url": "http://127.0.0.1:8080/TPReadOnlyDataService.asmx",
        "org_id": 20002,
        "username": "parentpay_x",
        "password_env": "BROMCOM_PASSWORD_X",
    }
    assert data["school"] == {"name": summary.name, "urn": summary.urn, "parentpay_site_id": 5002}
    assert data["ufsm"] == {"year_codes": ["R", "1", "2"]}
    assert data["upload"] == {
        "options": ["pupils", "staff", "preadmissions"],
        "lawful_basis": "legitimate_interest",
        "staff_id_prefix": "3",
    }
    assert data["dietary"] == {"allow": ["Nut Allergy"]}
    assert data["year_code_aliases"] == {"Year 1": "1"}
    schema = json.loads((REPO / "schemas" / "school.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)


# -- the fixture school -------------------------------------------------------------------


def test_fixture_files_are_what_oakfield_py_writes(tmp_path: Path) -> None:
    oakfield.write(tmp_path)
    written = sorted(p.name for p in (tmp_path / "20001").iterdir())
    assert written == sorted(p.name for p in FIXTURE.iterdir())
    for name in written:
        assert (
            (tmp_path / "20001" / name).read_bytes() == (FIXTURE / name).read_bytes()
        ), f"{name} differs: run `python -m tests.fixtures.oakfield` and update README.md"


def test_fixture_identity_and_ids() -> None:
    account = json.loads((FIXTURE / "account.json").read_text())
    assert account == {
        "username": "parentpay_oakfield",
        "password": "fixture-password",
        "permitted": list(ENTITIES),
    }
    assert load(FIXTURE, "School") == [
        {
            "SchoolID": 20001,
            "SchoolName": "Oakfield Primary School",
            "URN": 100001,
            "LAEstab": "3832001",
            "Phase": "Primary",
        }
    ]
    ids = [r["PersonID"] for r in load(FIXTURE, "People")]
    assert len(ids) == len(set(ids))
    assert {r["ContactPersonID"] for r in load(FIXTURE, "StudentContacts")} <= set(ids)
    for row in load(FIXTURE, "Students"):
        index = year_index(row["YearGroup"]) if row["YearGroup"] != "Year 1" else 1
        first, last = cohort_range(index, 2026)
        assert first <= dt.date.fromisoformat(row["DateOfBirth"]) <= last, row


def _by_id(entity: str, key: str = "StudentID") -> dict[int, dict[str, Any]]:
    return {r[key]: r for r in load(FIXTURE, entity)}


def test_fixture_carries_every_case_of_its_readme() -> None:
    s = _by_id("Students")
    today = oakfield.TODAY.isoformat()
    assert (s[1001]["FirstName"], s[1001]["PreferredFirstName"]) == ("Alexander", "Alex")
    assert (s[1002]["FirstName"], s[1002]["LastName"]) == ("Siân", "O'Brien")
    assert s[1002]["DateOfBirth"] == "2019-06-02"  # British Summer Time
    assert s[1004]["EndDate"] < today
    assert s[1005]["StartDate"] > today
    assert s[1006]["EnrolmentStatus"] == "S" and s[1012]["EnrolmentStatus"] == "M"
    assert s[1007]["YearGroup"] == "Year 1"
    assert s[1008]["DataProcessingConsent"] is False
    assert s[1011]["AdmissionNumber"] == "000123"
    assert "UPN" not in s[1012] and len(s[1012]["LastName"]) > 40
    meals = load(FIXTURE, "StudentMeals")
    covering = {
        m["StudentID"] for m in meals if m["StartDate"] <= today <= m.get("EndDate", "9999-12-31")
    }
    assert covering == {1001, 1004, 1010}
    assert {
        "StudentID": 1003,
        "FSMType": "FSM",
        "StartDate": "2024-09-02",
        "EndDate": "2026-11-27",
    } in meals
    links = load(FIXTURE, "StudentContacts")
    hughes = sorted(
        (r["Priority"], r["ContactPersonID"], r["CourtOrder"])
        for r in links
        if r["StudentID"] == 1009
    )
    assert hughes == [(1, 5012, True), (2, 5013, False)]
    assert not any(r["ParentalResponsibility"] for r in links if r["StudentID"] == 1010)
    assert {r["ContactPersonID"] for r in links if r["StudentID"] in (1002, 1003)} == {5004, 5005}
    assert any("EndDate" in r for r in links if r["StudentID"] == 1001)
    mobile_5010 = [
        r["Value"]
        for r in load(FIXTURE, "PersonCommunications")
        if r["PersonID"] == 5010 and r["CommunicationTypeDescription"] == "Mobile"
    ]
    assert len(re.sub(r"\D", "", mobile_5010[0])) > 15
    conditions = {
        (r["PersonID"], r["MedicalConditionDescription"])
        for r in load(FIXTURE, "PersonMedicalConditions")
    }
    assert {(1002, "Nut Allergy"), (1002, "Asthma")} <= conditions
    staff = _by_id("Staff", "StaffID")
    assert len(staff) == 3 and [k for k, v in staff.items() if "EndDate" in v] == [2003]
    pre = _by_id("PreAdmissionStudents")
    assert [(k, v["ApplicationStatus"], "UPN" in v) for k, v in sorted(pre.items())] == [
        (3001, "Accepted", True),
        (3002, "Offered", True),
        (3003, "Accepted", False),
    ]
    readme = (REPO / "tests" / "fixtures" / "README.md").read_text(encoding="utf-8")
    for person_id in [*s, *pre, *staff]:
        assert f"| {person_id} |" in readme, f"{person_id} is not described in README.md"
