"""`bromsync export`: the fixture school's manual-upload CSV files, from the real simulators."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest
from syrupy.assertion import SnapshotAssertion

from engine.commands.export import (
    ExportResult,
    HeldRecord,
    detail_lines,
    export_school,
    summary_line,
)
from engine.commands.run import run_school
from engine.config.school import load_school
from engine.pipeline import Options
from engine.targets.manual_upload import formula_like, render_csv, write_atomic
from tests.conftest import SITE_ID, Stack

BOM = "\ufeff"


def export(stack: Stack, **options: object) -> ExportResult:
    school = load_school(stack.school_file)
    return export_school(
        school, stack.root / "export", Options(state_dir=stack.state_dir, **options)
    )  # type: ignore[arg-type]


def read_rows(path: Path) -> list[dict[str, str]]:
    """The file as a program reading it would: BOM stripped, RFC 4180 quoting undone."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def by_id(path: Path) -> dict[str, dict[str, str]]:
    return {row["mis_id"]: row for row in read_rows(path)}


def rewrite_school_file(stack: Stack, old: str, new: str) -> None:
    text = stack.school_file.read_text(encoding="utf-8")
    assert old in text
    stack.school_file.write_text(text.replace(old, new), encoding="utf-8")


def test_the_fixture_school_files(stack: Stack, raw: SnapshotAssertion) -> None:
    result = export(stack)
    assert result.exit_code == 3, result.message  # 1007 is held back, as `plan` holds it
    assert summary_line(result) == (
        f"Oakfield Primary School (100001): exported 8 pupils, 2 staff, 2 pre-admissions to "
        f"{stack.root / 'export'}; 1 held back by checks"
    )
    assert sorted(p.name for p in (stack.root / "export").iterdir()) == [
        "100001.preadmissions.csv",
        "100001.pupils.csv",
        "100001.staff.csv",
    ]  # no temporary file left behind
    for written in result.files:
        data = written.path.read_bytes()
        assert data.startswith(BOM.encode("utf-8"))
        text = data.decode("utf-8-sig")
        assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
        assert text.replace("\r\n", "\n") == raw(name=written.type)


def test_held_records_are_left_out_and_reported_with_their_checks(stack: Stack) -> None:
    result = export(stack)
    pupils = read_rows(stack.root / "export" / "100001.pupils.csv")
    assert [row["mis_id"] for row in pupils] == [
        "1001",
        "1002",
        "1003",
        "1008",
        "1009",
        "1010",
        "1011",
        "1012",
    ]
    assert result.held == [
        HeldRecord(
            "pupil", "1007", ("year_code_not_parentpay", "mobile_too_long"), in_parentpay=False
        )
    ]
    lines = detail_lines(result)
    assert any(
        line.startswith("held back pupil 1007 (Year 1): year_code_not_parentpay: ")
        for line in lines
    )
    assert not any(line.startswith("warning:") for line in lines)  # 1007 was never in ParentPay
    # Warnings are reported but hold nothing back: 1010 has no payer and is in the file.
    assert "pupil_without_payer" in {hit.name for hit in result.checks if hit.severity == "warning"}
    assert "1010" in {row["mis_id"] for row in pupils}

    con = duckdb.connect(str(stack.state_dir / "100001.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT command, status, summary FROM runs").fetchall() == [
            ("export", "incomplete", None)
        ]
        assert con.execute(
            "SELECT mis_id FROM records WHERE held AND run_id = ? ORDER BY mis_id", [result.run_id]
        ).fetchall() == [("1007",)]
        assert con.execute("SELECT count(*) FROM uploaded").fetchone() == (0,)  # not an upload
    finally:
        con.close()


def test_values_round_trip_through_a_csv_reader(stack: Stack) -> None:
    # A line break in a name is held back by the check control_character, so the awkward
    # characters left to quote are the comma, the quote and the semicolon.
    stack.edit_row(
        "Students", "StudentID", 1003, LastName='O\'Brien, "Walsh"', FirstName="Ciarán; Máire"
    )
    export(stack)
    pupils = by_id(stack.root / "export" / "100001.pupils.csv")
    assert pupils["1002"]["forename"] == "Siân" and pupils["1002"]["surname"] == "O'Brien"
    assert pupils["1002"]["dietary"] == "Nut Allergy" and pupils["1002"]["dob"] == "2019-06-02"
    assert (
        pupils["1003"]["surname"] == 'O\'Brien, "Walsh"'
        and pupils["1003"]["forename"] == "Ciarán; Máire"
    )
    assert pupils["1012"]["surname"] == "Featherstonehaugh-Cholmondeley-Wolstenholme"
    assert pupils["1012"]["upn"] == "" and pupils["1012"]["payer_email"] == ""
    assert pupils["1011"]["admission_number"] == "000123"  # leading zeros kept
    assert (pupils["1001"]["fsm"], pupils["1001"]["fsm_start"], pupils["1001"]["fsm_end"]) == (
        "TRUE",
        "2025-04-01",
        "",
    )
    assert pupils["1003"]["fsm"] == "FALSE"
    staff = by_id(stack.root / "export" / "100001.staff.csv")
    assert list(staff) == ["2001", "2002"] and staff["2002"]["forename"] == "Dai"


def test_nothing_is_sent_to_parentpay(stack: Stack) -> None:
    export(stack)
    assert stack.parentpay.requests == []
    assert stack.parentpay.people(SITE_ID, status="all") == []


def test_only_the_school_files_upload_options_are_exported(stack: Stack) -> None:
    rewrite_school_file(stack, "options: [pupils, staff, preadmissions]", "options: [staff]")
    result = export(stack)
    assert result.exit_code == 0, result.message
    assert [(f.type, f.path.name, f.rows) for f in result.files] == [
        ("staff", "100001.staff.csv", 2)
    ]
    assert sorted(p.name for p in (stack.root / "export").iterdir()) == ["100001.staff.csv"]


def test_a_value_a_spreadsheet_would_run_holds_the_record_back_unaltered(stack: Stack) -> None:
    stack.edit_row(
        "Students", "StudentID", 1003, PreferredFirstName='=HYPERLINK("http://x.example","Ciarán")'
    )
    phones = stack.entity("PersonCommunications")
    [mobile] = [
        r
        for r in phones["rows"]
        if r["PersonID"] == 5001 and r["CommunicationTypeDescription"] == "Mobile"
    ]
    mobile["Value"] = "+44 7700 900101"
    stack.save_entity("PersonCommunications", phones)

    result = export(stack)
    pupils = by_id(stack.root / "export" / "100001.pupils.csv")
    assert "1003" not in pupils
    assert pupils["1001"]["payer_mobile"] == "+44 7700 900101"  # a phone number is not a formula
    [hit] = [h for h in result.checks if h.name == "csv_formula_value"]
    assert (hit.records, hit.details) == (["1003"], ["1003: forename"])
    assert HeldRecord("pupil", "1003", ("csv_formula_value",), in_parentpay=False) in result.held


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        ("=1+1", True),
        ("@SUM(A1)", True),
        ("-2+3+cmd|' /C calc'!A0", True),
        ("+Smith", True),
        ("\tx", True),
        ("+44 (0)7700 900101", False),
        ("-", False),
        ("O'Brien", False),
        ("Smith-Jones", False),
        ("", False),
    ],
)
def test_formula_like(text: str, runs: bool) -> None:
    assert formula_like(text) is runs


def test_a_record_already_in_parentpay_that_is_held_back_is_flagged_as_archived_by_the_upload(
    stack: Stack,
) -> None:
    school = load_school(stack.school_file)
    assert run_school(school, Options(state_dir=stack.state_dir)).applied == 12
    stack.edit_row("Students", "StudentID", 1003, YearGroup="Year 5")

    result = export(stack)
    assert result.exit_code == 3 and result.files  # 1 of 8 pupils is under the default guards
    assert (
        HeldRecord("pupil", "1003", ("year_code_not_parentpay",), in_parentpay=True) in result.held
    )
    assert detail_lines(result)[-1].startswith(
        "warning: pupil 1003 already in ParentPay and not in the files"
    )


def test_the_archive_guard_blocks_an_export_that_would_archive_too_many(stack: Stack) -> None:
    school = load_school(stack.school_file)
    assert run_school(school, Options(state_dir=stack.state_dir)).applied == 12
    stack.school_file.write_text(
        stack.school_file.read_text(encoding="utf-8")
        + "guards: {max_archive_percent: 5, max_archive_count: 0}\n",
        encoding="utf-8",
    )
    stack.edit_row("Students", "StudentID", 1003, EndDate="2026-11-01")

    blocked = export(stack)
    assert blocked.exit_code == 3 and blocked.files == []
    assert blocked.message.startswith(
        "blocked, no file written: this plan would archive 1 of 8 pupils"
    )
    assert not (stack.root / "export").exists()

    allowed = export(stack, allow_mass_archive=True)
    assert [f.rows for f in allowed.files] == [7, 2, 2]


def test_render_csv_orders_rows_naturally_and_quotes_only_what_needs_it() -> None:
    records = [
        {
            "mis_id": "10",
            "type": "staff",
            "fields": {"title": "Mr", "forename": "Dai", "surname": "Llewellyn, Jr"},
        },
        {
            "mis_id": "2",
            "type": "staff",
            "fields": {"title": None, "forename": 'A "B"', "surname": "O'Neil"},
        },
    ]
    text, rows = render_csv("staff", records)
    assert rows == 2
    assert text == (
        "mis_id,title,forename,surname,email,mobile\r\n"
        '2,,"A ""B""",O\'Neil,,\r\n'
        '10,Mr,Dai,"Llewellyn, Jr",,\r\n'
    )


def test_write_atomic_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "out" / "100001.staff.csv"
    write_atomic(target, "old\r\n")
    write_atomic(target, "mis_id\r\nSiân\r\n")
    assert target.read_bytes() == BOM.encode() + "mis_id\r\nSiân\r\n".encode()
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert target.stat().st_mode & 0o077 == 0  # personal data: the owner's only
    assert list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig")))) == [
        ["mis_id"],
        ["Siân"],
    ]


def test_cells_dietary_booleans_and_nulls() -> None:
    record = {
        "mis_id": "3001",
        "type": "preadmission",
        "fields": {
            "dietary": ["Coeliac", "Nut Allergy"],
            "fsm": True,
            "upn": None,
            "admission_number": "0042",
        },
    }
    [header, row] = list(csv.reader(io.StringIO(render_csv("preadmission", [record])[0])))
    cells = dict(zip(header, row, strict=True))
    assert (cells["dietary"], cells["fsm"], cells["upn"], cells["admission_number"]) == (
        "Coeliac; Nut Allergy",
        "TRUE",
        "",
        "0042",
    )
    assert cells["admission_date"] == ""
