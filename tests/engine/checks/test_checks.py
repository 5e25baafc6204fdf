"""engine/checks.py, check_packs.py, check_context.py and checks/builtin.yaml: each built-in check
tripped and not tripped on a real DuckDB state, the run's context, and broken check files failing
in `validate`, located."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from syrupy.assertion import SnapshotAssertion

from engine.checks.context import _column, install, uninstall
from engine.checks.packs import check_problems, compile_checks, load_checks
from engine.checks.run import CheckHit, held_ids, run_checks
from engine.errors import ConfigError
from engine.records import RECORD_FIELDS, RECORD_TYPES, Record
from engine.shipped import checks_dir
from engine.sources import Table
from engine.state.store import State
from tests.conftest import FIXTURE_SETTINGS
from tests.helpers import REPO

CASES = Path("tests/cases/checks")
CASE_NAMES = sorted(p.stem for p in (REPO / CASES).glob("*.yaml"))
RUN = "run-1"
TODAY = dt.date(2026, 11, 28)  # school year 2026/27: its cohort date is 2026-08-31
SETTINGS: dict[str, Any] = {**FIXTURE_SETTINGS, "dietary_allow": [], "today": TODAY}
MEALS_COLUMNS = {
    "StudentID": "int",
    "FSMType": "string",
    "StartDate": "dateTime",
    "EndDate": "dateTime",
}
BUILTIN = load_checks()


def _record(kind: str, mis_id: str, defaults: dict[str, Any], changes: dict[str, Any]) -> Record:
    fields: dict[str, Any] = {name: None for name in RECORD_FIELDS[kind]}
    fields.update(defaults)
    fields.update(changes)
    assert set(fields) == set(RECORD_FIELDS[kind]), "a test record has a field ParentPay does not"
    return {"mis_id": mis_id, "type": kind, "fields": fields}


def pupil(mis_id: str, **changes: Any) -> Record:
    """A Year 2 pupil (6 on 31 August 2026) with a payer: trips nothing."""
    defaults = {
        "upn": f"A{mis_id:0>12}",
        "forename": "Ann",
        "surname": "Lee",
        "legal_forename": "Ann",
        "legal_surname": "Lee",
        "dob": "2020-03-15",
        "gender": "F",
        "year_code": "2",
        "reg_group": "2L",
        "fsm": False,
        "payer_email": f"parent{mis_id}@example.com",
        "payer_mobile": "07700 900123",
        "dietary": [],
    }
    return _record("pupil", mis_id, defaults, changes)


def preadmission(mis_id: str, **changes: Any) -> Record:
    """A Reception starter of September 2027 (4 on 31 August 2027) with a payer."""
    defaults = {
        "upn": f"B{mis_id:0>12}",
        "forename": "Max",
        "surname": "Ray",
        "legal_forename": "Max",
        "legal_surname": "Ray",
        "dob": "2023-01-10",
        "gender": "M",
        "year_code": "R",
        "fsm": False,
        "payer_email": f"carer{mis_id}@example.com",
        "payer_mobile": "+44 7700 900456",
        "dietary": [],
        "admission_date": "2027-09-01",
    }
    return _record("preadmission", mis_id, defaults, changes)


def staff(mis_id: str, **changes: Any) -> Record:
    defaults = {
        "title": "Mrs",
        "forename": "Sam",
        "surname": "Bell",
        "email": "s.bell@school.sch.uk",
        "mobile": None,
    }
    return _record("staff", mis_id, defaults, changes)


def meal(student_id: int, start: str, end: str | None) -> dict[str, Any]:
    return {
        "StudentID": student_id,
        "FSMType": "FSM",
        "StartDate": dt.datetime.fromisoformat(start),
        "EndDate": end and dt.datetime.fromisoformat(end),
    }


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "100001.duckdb") as opened:
        yield opened


def check(
    state: State,
    records: Sequence[Record],
    meals: Sequence[dict[str, Any]] = (),
    checks: Sequence[Any] = BUILTIN,
    **settings: Any,
) -> list[CheckHit]:
    state.save_raw(RUN, Table("StudentMeals", MEALS_COLUMNS, list(meals)), 0.1)
    state.save_records(RUN, records)
    return run_checks(state.con, RUN, records, checks, {**SETTINGS, **settings})


@dataclass(frozen=True)
class Case:
    check: str
    records: list[Record]
    flagged: list[tuple[str, list[str], list[str]]] = field(
        default_factory=list
    )  # type, ids, details
    meals: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


# fmt: off
TRIPS = {
    "mis_id of a pupil and a pre-admission": Case(
        "duplicate_mis_id", [pupil("1"), preadmission("1"), pupil("2")],
        [("pupil", ["1"], ["pupil Ann Lee and pre-admission Max Ray"]), ("preadmission", ["1"], ["pupil Ann Lee and pre-admission Max Ray"])],
    ),
    "mis_id of two staff": Case(
        "duplicate_mis_id", [staff("20"), staff("20", forename="Jo"), pupil("1")],
        [("staff", ["20"], ["staff Jo Bell and staff Sam Bell"])],
    ),
    "upn of a pupil and a pre-admission": Case(
        "duplicate_upn", [pupil("1", upn="A100000000001"), preadmission("7", upn="A100000000001"), pupil("2")],
        [("pupil", ["1"], []), ("preadmission", ["7"], [])],
    ),
    "missing names, dob and year": Case(
        "missing_required_fields",
        [pupil("1", dob=None, forename=""), staff("20", surname="  "), preadmission("30", year_code=None)],
        [("pupil", ["1"], ["date of birth", "first name"]), ("staff", ["20"], ["last name"]),
         ("preadmission", ["30"], ["year group"])],
    ),
    "a date of birth that is no day, and one in UK order": Case(
        "not_a_date",
        [pupil("1", dob="31/02/2015"), pupil("2", dob="2015-13-01"), pupil("3"),
         preadmission("30", admission_date="01/09/2027", fsm_start="2026/09/01")],
        [("pupil", ["1", "2"], ["1: Date of Birth '31/02/2015'", "2: Date of Birth '2015-13-01'"]),
         ("preadmission", ["30"], ["30: Admission Date '01/09/2027'", "30: free-meal start"])],
    ),
    "a date that is not a date is not also missing": Case(
        "missing_required_fields", [pupil("1", dob="31/02/2015"), pupil("2", dob="")],
        [("pupil", ["2"], ["date of birth"])],
    ),
    "a 50,000-character name and a 255-character email": Case(
        "text_too_long",
        [pupil("1", forename="A" * 50_000), staff("20", title="T" * 101),
         preadmission("30", payer_email="a" * 243 + "@example.com"), pupil("2", legal_surname="L" * 101)],
        [("pupil", ["1", "2"], ["1: forename, 50000 characters", "2: legal_surname, 101 characters"]),
         ("staff", ["20"], ["20: title, 101 characters"]),
         ("preadmission", ["30"], ["30: payer_email, 255 characters"])],
    ),
    "a tab, a line break, NEL and a control code in a dietary need": Case(
        "control_character",
        [pupil("1", surname="O'Bri\ten"), staff("20", forename="Sam\n"), preadmission("30", legal_forename="Ma\x85x"),
         pupil("2", dietary=["Nut\x01 Allergy"]), pupil("3")],
        [("pupil", ["1", "2"], ["1: surname holds U+0009", "2: dietary holds U+0001"]),
         ("staff", ["20"], ["20: forename holds U+000A"]),
         ("preadmission", ["30"], ["30: legal_forename holds U+0085"])],
    ),
    "year code as Bromcom names the group": Case(
        "year_code_not_parentpay", [pupil("1", year_code="Year 1"), preadmission("30", year_code="Rec"), pupil("2")],
        [("pupil", ["1"], ["Year 1"]), ("preadmission", ["30"], ["Rec"])],
    ),
    "a Year 2 age coded 3": Case(
        "ufsm_age_mismatch", [pupil("1", year_code="3"), pupil("2")], [("pupil", ["1"], ["year group '3', age fits 2"])]
    ),
    "born 31 August 2022 (Reception) coded N2": Case(
        "ufsm_age_mismatch", [pupil("1", dob="2022-08-31", year_code="N2")], [("pupil", ["1"], ["year group 'N2', age fits R"])]
    ),
    "on 1 September the new cohort date applies": Case(
        "ufsm_age_mismatch", [pupil("1", dob="2022-03-01", year_code="N2")],
        [("pupil", ["1"], ["year group 'N2', age fits R"])], settings={"today": dt.date(2026, 9, 1)},
    ),
    "staff 1001 and pupil 1001": Case(
        "staff_id_collides_with_pupil", [pupil("1001"), staff("1001"), staff("2001")], [("staff", ["1001"], [])]
    ),
    "n/a and a trailing space": Case(
        "invalid_email",
        [pupil("1", payer_email="n/a"), staff("20", email="s.bell@school.sch.uk "), preadmission("30", payer_email="a@b"),
         pupil("2")],
        [("pupil", ["1"], []), ("staff", ["20"], []), ("preadmission", ["30"], [])],
    ),
    "two numbers in one field": Case(
        "mobile_too_long", [pupil("1", payer_mobile="07700 900321 / 07700 900322"), staff("20", mobile="+44 7700 9001234567")],
        [("pupil", ["1"], ["22 digits"]), ("staff", ["20"], ["16 digits"])],
    ),
    "no email and no mobile": Case(
        "pupil_without_payer", [pupil("1", payer_email=None, payer_mobile=None), preadmission("30", payer_email=None, payer_mobile=None)],
        [("pupil", ["1"], []), ("preadmission", ["30"], [])],
    ),
    "a Reception starter coded N2": Case(
        "preadmission_not_in_ufsm_year", [preadmission("30", year_code="N2"), preadmission("31")],
        [("preadmission", ["30"], ["year group 'N2', age fits R"])],
    ),
    "no admission date: aged on this year's cohort date": Case(
        "preadmission_not_in_ufsm_year", [preadmission("30", dob="2022-01-10", year_code="3", admission_date=None)],
        [("preadmission", ["30"], ["year group '3', age fits R"])],
    ),
    "an FSM period sent the wrong way round": Case(
        "fsm_ends_before_it_starts", [pupil("1", fsm_start="2026-09-01", fsm_end="2026-03-01"), pupil("2")],
        [("pupil", ["1"], [])],
    ),
    "a StudentMeals period swapped around today": Case(
        "fsm_ends_before_it_starts", [pupil("1"), preadmission("30")], [("pupil", ["1"], []), ("preadmission", ["30"], [])],
        meals=[meal(1, "2027-07-01T00:00:00", "2026-09-01T00:00:00"), meal(30, "2027-01-01T00:00:00", "2026-01-01T00:00:00")],
    ),
}
# fmt: on

# fmt: off
PASSES = {
    "unique ids across types": Case("duplicate_mis_id", [pupil("1"), preadmission("2"), staff("3")]),
    "one mis_id in two runs": Case("duplicate_mis_id", [pupil("1")]),  # run-0 also has pupil 1: see test
    "blank and null UPNs": Case("duplicate_upn", [pupil("1", upn=None), preadmission("2", upn=None), pupil("3", upn=""), pupil("4", upn="")]),
    "a staff member without a dob or year": Case("missing_required_fields", [staff("20"), pupil("1")]),
    "ISO dates, and none": Case(
        "not_a_date", [pupil("1"), pupil("2", dob=None, fsm_start="2026-09-01", fsm_end=None), preadmission("30", admission_date=None)]
    ),
    "100 characters exactly, and an email of 254": Case(
        "text_too_long",
        [pupil("1", forename="A" * 100, legal_forename="A" * 100), staff("20", surname="B" * 100),
         preadmission("30", payer_email="a" * 242 + "@example.com")],
    ),
    "Siân, Zoë, O'Brien-Walsh and a space": Case(
        "control_character",
        [pupil("1", forename="Siân", surname="O'Brien-Walsh"), staff("20", forename="Zoë Ann"),
         pupil("2", dietary=["Nut Allergy"])],
    ),
    "every ParentPay code": Case(
        "year_code_not_parentpay", [pupil(str(n), year_code=code) for n, code in enumerate(["N1", "N2", "R", "1", "9", "14"])]
    ),
    "a Year 3 age coded 3, and a pupil held back in a UFSM year": Case(
        "ufsm_age_mismatch", [pupil("1", dob="2019-03-15", year_code="3"), pupil("2", dob="2019-03-15", year_code="2")]
    ),
    "born 1 September 2022 (nursery) coded N2": Case("ufsm_age_mismatch", [pupil("1", dob="2022-09-01", year_code="N2")]),
    "on 31 August last year's cohort date applies": Case(
        "ufsm_age_mismatch", [pupil("1", dob="2022-03-01", year_code="N2")], settings={"today": dt.date(2026, 8, 31)}
    ),
    "a school without UFSM years": Case("ufsm_age_mismatch", [pupil("1", year_code="7")], settings={"ufsm_year_codes": []}),
    "staff prefixed with 3": Case("staff_id_collides_with_pupil", [pupil("1001"), staff("31001")]),
    "odd but valid emails": Case(
        "invalid_email", [pupil("1", payer_email="o'neil+meals@mail.school.sch.uk"), staff("20", email=None), staff("21", email="Zoë@exämple.com")]
    ),
    "15 digits exactly": Case("mobile_too_long", [pupil("1", payer_mobile="+44 7700 900123 456"), staff("20", mobile=None)]),
    "a payer with only a mobile": Case("pupil_without_payer", [pupil("1", payer_email=None), staff("20", email=None)]),
    "a nursery applicant coded N2": Case("preadmission_not_in_ufsm_year", [preadmission("30", dob="2024-01-10", year_code="N2")]),
    "a Year 4 mid-year applicant": Case(
        "preadmission_not_in_ufsm_year", [preadmission("30", dob="2018-02-01", year_code="4", admission_date="2027-01-05")]
    ),
    "FSM periods the right way round, or swapped long ago": Case(
        "fsm_ends_before_it_starts", [pupil("1", fsm=True, fsm_start="2025-04-01"), pupil("2")],
        meals=[meal(1, "2025-04-01T00:00:00", None), meal(2, "2020-05-01T00:00:00", "2019-09-01T00:00:00")],
    ),
}
# fmt: on


@pytest.mark.parametrize("name", TRIPS)
def test_check_trips(state: State, name: str) -> None:
    case = TRIPS[name]
    hits = check(state, case.records, case.meals, **case.settings)
    assert [(h.type, h.records, h.details) for h in hits if h.name == case.check] == case.flagged


@pytest.mark.parametrize("name", PASSES)
def test_check_passes(state: State, name: str) -> None:
    case = PASSES[name]
    state.save_records("run-0", [pupil("1", forename="Old")])
    hits = check(state, case.records, case.meals, **case.settings)
    assert [h for h in hits if h.name == case.check] == []


def test_every_builtin_check_has_a_case_that_trips_it_and_one_that_does_not() -> None:
    names = {c.name for c in BUILTIN}
    assert {c.check for c in TRIPS.values()} == names
    assert {c.check for c in PASSES.values()} == names


def test_a_clean_school_trips_nothing(state: State) -> None:
    records = [
        pupil("1001"),
        pupil("1002", dob="2022-08-31", year_code="R"),
        staff("2001"),
        preadmission("3001"),
    ]
    assert check(state, records, [meal(1001, "2025-04-01T00:00:00", None)]) == []


def test_hit_carries_the_checks_words_and_natural_order(state: State) -> None:
    hits = check(state, [pupil(i, payer_email="n/a") for i in ("10", "2", "A1", "1")])
    [hit] = [h for h in hits if h.name == "invalid_email"]
    assert hit.records == ["1", "2", "10", "A1"]
    assert hit.severity == "error"
    assert hit.message.startswith("These records' email address")
    assert "\n" not in hit.remediation
    assert held_ids(hits) == {"1", "2", "10", "A1"}


def test_warnings_hold_nothing_back(state: State) -> None:
    hits = check(state, [pupil("1", payer_email=None, payer_mobile=None)])
    assert [h.name for h in hits] == ["pupil_without_payer"]
    assert held_ids(hits) == set()


def test_context_is_dropped_after_the_run(state: State) -> None:
    check(state, [pupil("1")])
    for name in ("pupils", "people", "school_settings", "baseline"):
        with pytest.raises(duckdb.CatalogException):
            state.con.execute(f"SELECT * FROM {name}")


def test_a_staff_only_school_skips_the_pupil_checks(state: State) -> None:
    # No StudentMeals was fetched, so the FSM check (which reads raw_studentmeals) must not run.
    records = [staff("20", email="bad")]
    hits = run_checks(state.con, RUN, records, BUILTIN, SETTINGS)
    assert [(h.name, h.type) for h in hits] == [("invalid_email", "staff")]


def test_a_check_failing_at_run_time_names_itself_and_its_file(state: State) -> None:
    records = [pupil("1")]  # pupils, but no raw_studentmeals table
    with pytest.raises(ConfigError) as caught:
        run_checks(state.con, RUN, records, BUILTIN, SETTINGS)
    message = str(caught.value)
    assert "'fsm_ends_before_it_starts' failed on this run's data" in message
    assert "builtin.yaml:" in message and "raw_studentmeals" in message
    with pytest.raises(duckdb.CatalogException):
        state.con.execute("SELECT * FROM pupils")


def _pack(tmp_path: Path, sql: str, applies_to: str = "[pupil]") -> Path:
    path = tmp_path / "pack.yaml"
    body = "\n".join("      " + line for line in sql.splitlines())
    path.write_text(
        f"checks:\n  - name: custom\n    severity: warning\n    applies_to: {applies_to}\n    sql: |\n{body}\n"
        "    message: m\n    remediation: r\n",
        encoding="utf-8",
    )
    return path


def test_a_returned_type_outside_applies_to_is_an_error(state: State, tmp_path: Path) -> None:
    checks = load_checks([_pack(tmp_path, "SELECT type, mis_id FROM people")])
    with pytest.raises(
        ConfigError, match="returned type 'staff' for 20, which is not in its applies_to"
    ):
        check(state, [pupil("1"), staff("20")], checks=checks)


def test_a_mis_id_that_is_not_in_the_run_is_an_error(state: State, tmp_path: Path) -> None:
    checks = load_checks([_pack(tmp_path, "SELECT '999' AS mis_id")])
    with pytest.raises(
        ConfigError, match="flagged 999, which is not a record of this run of a type it applies to"
    ):
        check(state, [pupil("1")], checks=checks)


def test_school_settings_and_baseline_are_readable(state: State, tmp_path: Path) -> None:
    sql = (
        "SELECT p.mis_id, s.lawful_basis || ' ' || s.cohort_date || ' ' || array_to_string(s.ufsm_year_codes, '/')\n"
        "       || ' ' || (SELECT count(*) FROM baseline) || ' ' || (SELECT count(*) FROM parentpay_year_codes) AS detail\n"
        "FROM pupils p, school_settings s"
    )
    hits = check(
        state, [pupil("1")], checks=load_checks([_pack(tmp_path, sql)]), lawful_basis="consent"
    )
    assert [h.details for h in hits] == [["consent 2026-08-31 R/1/2 0 17"]]


def test_the_shipped_pack_is_valid_and_names_are_unique() -> None:
    assert check_problems(checks_dir() / "builtin.yaml") == []
    names = [c.name for c in BUILTIN]
    assert len(names) == len(set(names)) == 14


def test_a_name_used_in_two_packs_is_refused(tmp_path: Path) -> None:
    first = _pack(tmp_path, "SELECT mis_id FROM pupils")
    second = tmp_path / "second.yaml"
    second.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"the check name 'custom' is also used at .*pack\.yaml:5:"
    ):
        load_checks([first, second])


# -- golden cases: check files, good and broken ---------------------------------------------


@pytest.fixture
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


@pytest.mark.usefixtures("_in_repo")
@pytest.mark.parametrize("name", CASE_NAMES)
def test_golden_case(name: str, raw: SnapshotAssertion) -> None:
    checks, problems = compile_checks(CASES / f"{name}.yaml")
    if name.startswith("good_"):
        assert checks and not problems
        rendered = "".join(
            f"{c.name} ({c.severity}, {', '.join(c.applies_to)}) at {c.where}\n" for c in checks
        )
    else:
        assert not checks and problems
        rendered = "".join(f"{p}\n" for p in problems)
    assert rendered == raw


@pytest.mark.usefixtures("_in_repo")
def test_bad_sql_points_at_the_line_and_column_in_the_file() -> None:
    [problem] = check_problems(CASES / "bad_sql.yaml")
    line = (
        (REPO / CASES / "bad_sql.yaml").read_text(encoding="utf-8").splitlines()[problem.line - 1]
    )
    assert line[problem.col - 1 :].startswith("AND surname")


def test_the_context_holds_the_records_as_the_states_staged_views_read_them(state: State) -> None:
    # The checks' tables are loaded from the run's records in Python; the state's staged_<type>
    # views read the same records from their stored JSON. Both must give the same columns,
    # types and values, odd values included: numbers and booleans where text is expected,
    # a date in another form, a missing field, dietary needs, no FSM.
    records = [
        pupil("1", dietary=["Vegan", "Nut allergy"], fsm=True, fsm_start="2025-09-01"),
        pupil("2", dob="2015/02/01", year_code=3, reg_group=None, fsm=None),
        preadmission("3", upn=None, admission_date="2027-09-01", dietary=["Halal"]),
        staff("4", mobile=7700900123, title=True),
    ]
    del records[1]["fields"]["gender"]
    state.save_records(RUN, records)
    install(state.con, RUN, records, SETTINGS)
    try:
        for kind in RECORD_TYPES.values():
            table = f"temp.{kind.option}"
            staged = (
                f"SELECT run_id, mis_id, held, {', '.join(_column(n) for n in kind.fields)} "
                f"FROM main.staged_{kind.name} WHERE run_id = '{RUN}'"
            )
            described = [row[:2] for row in state.con.execute(f"DESCRIBE {table}").fetchall()]
            assert described == [
                row[:2] for row in state.con.execute(f"DESCRIBE {staged}").fetchall()
            ]
            ours = state.con.execute(f"SELECT * FROM {table} ORDER BY mis_id").fetchall()
            assert ours, kind.name
            assert ours == state.con.execute(f"{staged} ORDER BY mis_id").fetchall()
    finally:
        uninstall(state.con)
