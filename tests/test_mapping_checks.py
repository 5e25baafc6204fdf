"""Mappings checked against the data, end to end: the harmful cases of issue 10 push nothing.

A join column misspelt in a mapping (the run blanked 201 payers), a column Bromcom sends under
another name, and StudentID sent as text (205 operations: payers blanked, pupils archived and
created again) each end with exit 2 and nothing pushed, staged or planned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from engine.shipped import mappings_dir
from tests.conftest import SITE_ID, Stack
from tests.test_end_to_end import bromsync


def _posts(stack: Stack) -> int:
    return len([r for r in stack.parentpay.requests if r.method == "POST"])


def _state(stack: Stack, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(stack.state_dir / "100001.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _synced(stack: Stack) -> list[dict[str, Any]]:
    """A first run (1007's "Year 1" is held back, so exit 3) and what ParentPay then holds."""
    first = bromsync("run", str(stack.school_file))
    assert first.exit_code == 3 and "12 applied" in first.output, first.output
    return stack.parentpay.people(SITE_ID, status="all")


def _last_run_staged_nothing(stack: Stack) -> None:
    [(run_id, status)] = _state(
        stack, "SELECT run_id, status FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1"
    )
    assert status == "failed"
    assert _state(stack, f"SELECT count(*) FROM records WHERE run_id = '{run_id}'") == [(0,)]
    assert _state(stack, f"SELECT count(*) FROM fetches WHERE run_id = '{run_id}'") == [(0,)]


def test_a_join_column_misspelt_in_the_mapping_stops_the_run_and_pushes_nothing(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _synced(stack)
    posts = _posts(stack)
    folder = tmp_path / "mappings"
    folder.mkdir()
    for path in mappings_dir().glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "pupils.yaml":
            text = text.replace("match: {StudentID: StudentID}", "match: {StudentId: StudentID}", 1)
        (folder / path.name).write_text(text, encoding="utf-8")
    monkeypatch.setattr("engine.transform.mapping.mappings_dir", lambda: folder)

    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 2, result.output
    assert "pupils.yaml:18:13: joins.contacts.match: StudentContacts has no column 'StudentId'" in (
        result.output
    )
    assert "did you mean 'StudentID'?" in result.output
    assert _posts(stack) == posts
    assert stack.parentpay.people(SITE_ID, status="all") == before
    _last_run_staged_nothing(stack)


def test_a_column_bromcom_sends_under_another_name_stops_the_run_and_pushes_nothing(
    stack: Stack,
) -> None:
    before = _synced(stack)
    posts = _posts(stack)
    content = stack.entity("StudentContacts")
    content["columns"] = [
        ["StudentId", t] if n == "StudentID" else [n, t] for n, t in content["columns"]
    ]
    content["rows"] = [
        {("StudentId" if k == "StudentID" else k): v for k, v in row.items()}
        for row in content["rows"]
    ]
    stack.save_entity("StudentContacts", content)

    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 2, result.output
    assert "Bromcom's answer lacks columns the mappings read" in result.output
    assert (
        "pupils.yaml:18:13: joins.contacts.match reads StudentContacts.StudentID, but Bromcom's "
        "answer for StudentContacts has no column StudentID (did you mean StudentId?)"
    ) in result.output
    assert "preadmissions.yaml:" in result.output  # it reads the same join: each file is named
    assert _posts(stack) == posts
    assert stack.parentpay.people(SITE_ID, status="all") == before
    _last_run_staged_nothing(stack)


def _students_as_text(stack: Stack) -> None:
    content = stack.entity("Students")
    content["columns"] = [[n, "string" if n == "StudentID" else t] for n, t in content["columns"]]
    for row in content["rows"]:
        row["StudentID"] = str(row["StudentID"])
    stack.save_entity("Students", content)


def test_student_id_sent_as_text_stops_the_run_and_pushes_nothing(stack: Stack) -> None:
    before = _synced(stack)
    posts = _posts(stack)
    _students_as_text(stack)

    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 2, result.output
    assert "Bromcom changed the type of a key column since the last run" in result.output
    assert "Students.StudentID is now xs:string; the last run had xs:int" in result.output
    assert _posts(stack) == posts
    assert stack.parentpay.people(SITE_ID, status="all") == before
    _last_run_staged_nothing(stack)
    # The next run compares with the types last taken, not with the refused run's.
    again = bromsync("plan", str(stack.school_file), "--out", str(stack.plans))
    assert again.exit_code == 2 and "is now xs:string" in again.output, again.output


def test_a_key_column_back_to_the_catalogues_type_is_taken(stack: Stack) -> None:
    # A first run has no last types to compare with: text IDs are taken and join by number.
    _students_as_text(stack)
    first = bromsync("run", str(stack.school_file))
    assert first.exit_code == 3 and "12 applied" in first.output, first.output
    pupils = stack.parentpay.people(SITE_ID, type="pupil")
    payers = {p["mis_id"]: p["fields"]["payer_email"] for p in pupils}
    assert payers["1001"] is not None and sum(e is not None for e in payers.values()) == 6
    # Back to xs:int, the type docs/bromcom.md's catalogue says: not a change to stop for.
    stack.save_entity("Students", _fixture_entity("Students"))
    second = bromsync("run", str(stack.school_file))
    assert second.exit_code == 3 and "nothing to push" in second.output, second.output
    assert _state(
        stack,
        # Run IDs sort by the second only: two runs in one second need the runs' start times.
        "SELECT f.column_types->>'StudentID' FROM fetches f JOIN runs r USING (run_id) "
        "WHERE f.entity = 'Students' ORDER BY r.started_at DESC LIMIT 1",
    ) == [("int",)]


def _fixture_entity(name: str) -> dict[str, Any]:
    import json

    from tests.conftest import FIXTURES

    path = FIXTURES / "bromcom" / "20001" / f"{name}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def test_the_state_keeps_only_the_columns_the_mappings_read(stack: Stack) -> None:
    _synced(stack)
    medical = [
        c
        for (c,) in _state(stack, "SELECT column_name FROM (DESCRIBE raw_personmedicalconditions)")
    ]
    assert medical == ["run_id", "PersonID", "MedicalConditionDescription", "StartDate", "EndDate"]
    students = {c for (c,) in _state(stack, "SELECT column_name FROM (DESCRIBE raw_students)")}
    assert {"StudentID", "PersonID", "YearGroup"} <= students
    assert {"MiddleName", "House"}.isdisjoint(students)
    # Every declared type is still recorded, for the next run's comparison.
    [(types,)] = _state(
        stack,
        "SELECT column_types FROM fetches WHERE entity = 'PersonMedicalConditions' LIMIT 1",
    )
    assert '"Notes": "string"' in types
    found = _state(stack, "SELECT count(*) FROM duckdb_columns() WHERE column_name ILIKE 'notes'")
    assert found == [(0,)]
