"""Bromcom data that cannot go as it is, through the whole pipeline, against the simulators.

Each case ends either with the one record held back by an error check (exit 3, the others
pushed) or, where the value cannot even be read, with the school failed (exit 1, nothing
pushed); either way the message names the record, the field, the value as sent and the fix,
and nothing is ever trimmed or blanked to get a record through (docs/checks.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bromsync import cli
from simulators.bromcom import Fault
from tests.conftest import SITE_ID, Stack

OTHERS = {"1001", "1002", "1008", "1009", "1010", "1011", "1012"}  # the pupils that always go


def bromsync(stack: Stack, *args: str) -> Result:
    command = [*args, str(stack.school_file)]
    if args[0] in ("run", "plan"):
        command += ["--out", str(stack.plans)]
    return CliRunner().invoke(cli, command, catch_exceptions=False)


def pushed(stack: Stack) -> dict[str, dict[str, Any]]:
    return {p["mis_id"]: p for p in stack.parentpay.people(SITE_ID, status="all")}


def plan_checks(stack: Stack) -> dict[str, dict[str, Any]]:
    """The plan's checks by name, the hits of each record type merged."""
    plan = json.loads((stack.plans / "100001.plan.json").read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for hit in plan["checks"]:
        merged = out.setdefault(hit["name"], {**hit, "records": [], "details": []})
        merged["records"] += hit["records"]
        merged["details"] += hit.get("details") or []
    return out


def error_line(result: Result) -> str:
    [line] = [line for line in result.output.splitlines() if line.startswith("✘")]
    return line


# -- a value no XML reader accepts: the school fails, naming the row --------------------------


def test_a_control_character_in_a_pupils_name_names_the_pupil_and_pushes_nothing(
    stack: Stack,
) -> None:
    stack.edit_row("Students", "StudentID", 1003, FirstName="Ciar\x01án")
    result = bromsync(stack, "run")
    assert result.exit_code == 1, result.output
    line = error_line(result)
    for words in (
        "Oakfield Primary School",
        "Bromcom's answer for entity Students cannot be read",
        "This is Bromcom data to correct",
        "(StudentID 1003, PersonID 1003), column FirstName: 'Ciar[U+0001]án' holds the "
        "control character U+0001",
        "type the value again",
    ):
        assert words in line, line
    assert pushed(stack) == {}
    # Told once: the same answer would come again, so it is not asked for again.
    students = [r for r in stack.bromcom.requests if (r.entity_name or "") == "Students"]
    assert len(students) == 1


def test_a_lone_surrogate_served_as_dotnet_writes_it_is_named_too(stack: Stack) -> None:
    content = stack.entity("Students")
    [row] = [r for r in content["rows"] if r["StudentID"] == 1003]
    row["LastName"] = "O'Bri\ud800en"
    path = stack.data / "20001" / "Students.json"
    path.write_text(json.dumps(content), encoding="utf-8")  # ensure_ascii: "\ud800" survives
    result = bromsync(stack, "plan")
    assert result.exit_code == 1, result.output
    assert 'column LastName: "O\'Bri[U+D800]en" holds the character U+D800' in result.output


def test_check_reports_bad_data_as_something_to_fix(stack: Stack) -> None:
    stack.edit_row("Students", "StudentID", 1003, FirstName="Ciar\x01án")
    result = bromsync(stack, "check")
    assert result.exit_code == 3, result.output
    assert "StudentID 1003" in result.output and "Bromcom data to correct" in result.output


# -- a date that is not a date ----------------------------------------------------------------


def _dates_as_text(stack: Stack, **by_id: str) -> None:
    """Students.DateOfBirth declared xs:string, ISO for everyone but the pupils in `by_id`."""
    content = stack.entity("Students")
    content["columns"] = [[n, "string" if n == "DateOfBirth" else t] for n, t in content["columns"]]
    for row in content["rows"]:
        row["DateOfBirth"] = by_id.get(str(row["StudentID"]), row["DateOfBirth"] + "T00:00:00")
    stack.save_entity("Students", content)


def test_a_date_of_birth_in_another_form_holds_back_that_pupil_alone(stack: Stack) -> None:
    _dates_as_text(stack, **{"1003": "31/02/2015", "1001": "2018-01-15T00:00:00+00:00"})
    result = bromsync(stack, "run")
    assert result.exit_code == 3, result.output  # 1007's year code is held back as ever
    people = pushed(stack)
    assert "1003" not in people and set(people) >= OTHERS
    assert people["1001"]["fields"]["dob"] == "2018-01-15"
    checks = plan_checks(stack)
    assert checks["not_a_date"]["records"] == ["1003"]
    assert checks["not_a_date"]["details"] == ["1003: Date of Birth '31/02/2015'"]
    assert "missing_required_fields" not in checks  # not "fill in Date of Birth"
    report = (stack.plans / "100001.plan.md").read_text(encoding="utf-8")
    assert "`1003: Date of Birth '31/02/2015'`" in report and "correct the date" in report


def test_every_date_of_birth_in_uk_order_is_named_not_missing(stack: Stack) -> None:
    content = stack.entity("Students")
    uk = {
        str(r["StudentID"]): "/".join(reversed(r["DateOfBirth"].split("-")))
        for r in content["rows"]
    }
    _dates_as_text(stack, **uk)
    result = bromsync(stack, "plan")
    assert result.exit_code == 3, result.output
    checks = plan_checks(stack)
    assert "1003: Date of Birth '20/11/2016'" in checks["not_a_date"]["details"]
    assert set(checks["not_a_date"]["records"]) >= OTHERS | {"1003"}
    assert "missing_required_fields" not in checks
    assert "Bromcom is sending that column as text" in checks["not_a_date"]["remediation"]


def test_a_start_date_that_is_not_a_date_fails_the_school_naming_the_pupil(stack: Stack) -> None:
    content = stack.entity("Students")
    content["columns"] = [[n, "string" if n == "StartDate" else t] for n, t in content["columns"]]
    for row in content["rows"]:
        if row.get("StartDate"):
            row["StartDate"] += "T00:00:00"
    [row] = [r for r in content["rows"] if r["StudentID"] == 1003]
    row["StartDate"] = "05/09/2022"
    stack.save_entity("Students", content)
    result = bromsync(stack, "run")
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert "Bromcom sent '05/09/2022' in the data of record 1003" in line
    assert "This is Bromcom data to correct" in line
    assert pushed(stack) == {}  # a guess could have archived the pupil


# -- values ParentPay would refuse: held back, never trimmed -----------------------------------


def test_a_50000_character_name_is_held_back_never_trimmed(stack: Stack) -> None:
    stack.edit_row("Students", "StudentID", 1003, FirstName="A" * 50_000)
    stack.edit_row("Staff", "StaffID", 2002, Title="Mr " * 40)
    result = bromsync(stack, "run")
    assert result.exit_code == 3, result.output
    people = pushed(stack)
    assert "1003" not in people and "2002" not in people and set(people) >= OTHERS
    check = plan_checks(stack)["text_too_long"]
    assert sorted(check["records"]) == ["1003", "2002"]
    assert set(check["details"]) == {
        "1003: forename, 50000 characters",
        "1003: legal_forename, 50000 characters",
        "2002: title, 120 characters",
    }
    report = (stack.plans / "100001.plan.md").read_text(encoding="utf-8")
    assert "A" * 101 not in report and "(50,000 characters)" in report


def test_a_tab_in_a_surname_is_held_back(stack: Stack) -> None:
    stack.edit_row("Students", "StudentID", 1003, LastName="O'Brien\t")
    result = bromsync(stack, "run")
    assert result.exit_code == 3, result.output
    assert "1003" not in pushed(stack)
    check = plan_checks(stack)["control_character"]
    assert check["records"] == ["1003"]
    assert check["details"] == ["1003: legal_surname holds U+0009", "1003: surname holds U+0009"]


# -- Bromcom's server failing -----------------------------------------------------------------


def test_bromcoms_html_500_page_is_its_server_failing_not_the_url(stack: Stack) -> None:
    stack.bromcom.inject(
        Fault.server_error(operation="getEntityDataBySchoolID", entity="Students", times=3)
    )
    result = bromsync(stack, "plan")
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert "Bromcom's server failed" in line and "'Runtime Error'" in line
    assert "try again later" in line and "contact Bromcom support" in line
    assert "bromcom.url" not in line and "URL" not in line


@pytest.mark.parametrize("status", [200, 404])
def test_an_html_page_with_200_or_404_still_points_at_the_url(stack: Stack, status: int) -> None:
    page = "<html><head><title>Welcome</title></head><body>Sign in</body></html>"
    stack.bromcom.inject(
        Fault.http_status(status, page, operation="getEntityDataBySchoolID", entity="Students")
    )
    result = bromsync(stack, "plan")
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert f"answered HTTP {status}, not a Bromcom web-service reply" in line
    assert "(it sent a web page titled 'Welcome')" in line
    assert "check bromcom.url" in line
