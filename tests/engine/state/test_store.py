"""engine/state/store.py on a real DuckDB file: typing of raw rows, the acknowledged baseline, read-only queries."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.checks.run import CheckHit
from engine.errors import StateError
from engine.records import Record
from engine.sources import Table
from engine.state.query import query_state
from engine.state.store import State, state_path

URN = 100001
TODAY = dt.date(2026, 11, 28)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    s = State(state_path(tmp_path, URN))
    yield s
    s.close()


def _person(mis_id: str, status: str = "active", **fields: Any) -> Record:
    return {"mis_id": mis_id, "type": "pupil", "status": status, "fields": fields}


def _ack(state: State, upload_id: str, new_states: list[Record], *, batch: int = 0) -> None:
    results = [
        {"index": i, "op": "create", "type": s["type"], "mis_id": s["mis_id"], "status": "applied"}
        for i, s in enumerate(new_states)
    ]
    state.acknowledge(
        run_id="r1",
        plan_digest="d" * 64,
        batch=batch,
        key=f"k-{batch}",
        upload_id=upload_id,
        results=results,
        new_states=new_states,
    )


def test_save_raw_types_columns_from_bromcoms_schema(state: State) -> None:
    columns = {
        "StudentId": "int",
        "IsActive": "boolean",
        "DateOfBirth": "dateTime",
        "EntryDate": "date",
        "Name": "string",
        "Fee": "decimal",
    }
    rows = [
        # 00:30 on the night the clocks go forward: kept as written, never shifted by a UTC offset.
        {
            "StudentId": 7,
            "IsActive": True,
            "DateOfBirth": dt.datetime(2015, 3, 29, 0, 30),
            "EntryDate": dt.date(2019, 9, 4),
            "Name": "Zoë",
            "Fee": 12.5,
        },
        {
            "StudentId": None,
            "IsActive": None,
            "DateOfBirth": None,
            "EntryDate": None,
            "Name": None,
            "Fee": None,
        },
        {
            "StudentId": 8,
            "IsActive": False,
            "Name": 42,
        },  # absent columns are NULL; a number in a string column is text
    ]
    state.save_raw("r1", Table("Students", columns, rows), 0.25)

    types = dict(
        state.con.execute("SELECT column_name, column_type FROM (DESCRIBE raw_students)").fetchall()
    )
    assert types == {
        "run_id": "VARCHAR",
        "StudentId": "BIGINT",
        "IsActive": "BOOLEAN",
        "DateOfBirth": "TIMESTAMP",
        "EntryDate": "DATE",
        "Name": "VARCHAR",
        "Fee": "DOUBLE",
    }
    got = state.con.execute("SELECT * FROM raw_students").fetchall()
    assert got == [
        ("r1", 7, True, dt.datetime(2015, 3, 29, 0, 30), dt.date(2019, 9, 4), "Zoë", 12.5),
        ("r1", None, None, None, None, None, None),
        ("r1", 8, False, None, None, "42", None),
    ]
    assert state.con.execute(
        "SELECT DateOfBirth::DATE FROM raw_students WHERE StudentId = 7"
    ).fetchone() == (dt.date(2015, 3, 29),)


def test_save_raw_replaces_the_table_and_logs_every_fetch(state: State) -> None:
    table = Table("Student-Contacts", {"Id": "int"}, [{"Id": 1}, {"Id": 2}])
    state.save_raw("r1", table, 1.0)
    state.save_raw("r2", Table("Student-Contacts", {"Id": "int"}, [{"Id": 3}]), 2.0)

    assert state.con.execute("SELECT run_id, Id FROM raw_studentcontacts").fetchall() == [("r2", 3)]
    assert state.con.execute(
        "SELECT run_id, entity, row_count, seconds FROM fetches ORDER BY run_id"
    ).fetchall() == [("r1", "Student-Contacts", 2, 1.0), ("r2", "Student-Contacts", 1, 2.0)]


def test_save_raw_of_an_empty_entity_keeps_its_typed_columns(state: State) -> None:
    state.save_raw("r1", Table("Staff", {"StaffId": "int", "Surname": "string"}, []), 0.0)
    assert state.con.execute("SELECT column_type FROM (DESCRIBE raw_staff)").fetchall() == [
        ("VARCHAR",),
        ("BIGINT",),
        ("VARCHAR",),
    ]
    assert state.con.execute("SELECT count(*) FROM raw_staff").fetchone() == (0,)


def test_save_raw_keeps_only_the_columns_it_is_told_and_records_every_type(state: State) -> None:
    columns = {"PersonID": "int", "MedicalConditionDescription": "string", "Notes": "string"}
    rows: list[dict[str, Any]] = [
        {"PersonID": 1, "MedicalConditionDescription": "Asthma", "Notes": "Inhaler in class"}
    ]
    keep = {"MedicalConditionDescription", "PersonID", "NotDeclared"}
    state.save_raw("r1", Table("PersonMedicalConditions", columns, rows), 0.5, keep)

    raw = "raw_personmedicalconditions"
    assert state.con.execute(f"SELECT * FROM {raw}").fetchall() == [("r1", 1, "Asthma")]
    described = state.con.execute(f"SELECT column_name FROM (DESCRIBE {raw})").fetchall()
    assert described == [("run_id",), ("PersonID",), ("MedicalConditionDescription",)]
    assert state.last_column_types("personmedicalconditions") == columns  # every one, any case


def _raw_oid(state: State, table: str) -> int:
    row = state.con.execute(
        "SELECT table_oid FROM duckdb_tables() WHERE table_name = ?", [table]
    ).fetchone()
    assert row is not None, table
    return int(row[0])


def test_an_answer_identical_to_the_last_is_not_written_again(state: State) -> None:
    # Same digest, same kept columns: the rows stay, take the new run's id, and the fetch is
    # recorded. Another answer, or other columns kept, replaces the table.
    columns = {"Id": "int", "Name": "string", "Notes": "string"}
    rows: list[dict[str, Any]] = [{"Id": 1, "Name": "Ann", "Notes": "x"}]
    keep = {"Id", "Name"}
    for run_id in ("r1", "r2", "r3", "r4", "r5"):
        state.start_run(run_id, urn=URN, school="Oakfield", command="plan", today=TODAY)
    state.save_raw("r1", Table("Staff", columns, rows, digest="aaa"), 0.1, keep)
    made = _raw_oid(state, "raw_staff")
    state.save_raw("r2", Table("Staff", columns, rows, digest="aaa"), 0.1, keep)
    assert _raw_oid(state, "raw_staff") == made
    assert state.con.execute("SELECT * FROM raw_staff").fetchall() == [("r2", 1, "Ann")]
    digests = state.con.execute("SELECT run_id, digest FROM fetches ORDER BY run_id").fetchall()
    assert digests[0][1] == digests[1][1] is not None

    state.save_raw("r3", Table("Staff", columns, rows, digest="aaa"), 0.1, keep | {"Notes"})
    assert state.con.execute("SELECT * FROM raw_staff").fetchall() == [("r3", 1, "Ann", "x")]
    changed = [{"Id": 1, "Name": "Bea", "Notes": "x"}]
    state.save_raw("r4", Table("Staff", columns, changed, digest="bbb"), 0.1, keep)
    assert state.con.execute("SELECT * FROM raw_staff").fetchall() == [("r4", 1, "Bea")]
    # A source that gives no digest is always written.
    state.save_raw("r5", Table("Staff", columns, rows), 0.1, keep)
    assert state.con.execute("SELECT * FROM raw_staff").fetchall() == [("r5", 1, "Ann")]
    assert state.con.execute("SELECT digest FROM fetches WHERE run_id = 'r5'").fetchone() == (None,)


def test_an_identical_answer_is_written_when_its_table_was_dropped(state: State) -> None:
    state.start_run("r1", urn=URN, school="Oakfield", command="plan", today=TODAY)
    state.save_raw("r1", Table("Staff", {"Id": "int"}, [{"Id": 1}], digest="aaa"), 0.1)
    state.con.execute("DROP TABLE raw_staff")
    state.start_run("r2", urn=URN, school="Oakfield", command="plan", today=TODAY)
    state.save_raw("r2", Table("Staff", {"Id": "int"}, [{"Id": 1}], digest="aaa"), 0.1)
    assert state.con.execute("SELECT * FROM raw_staff").fetchall() == [("r2", 1)]


def test_opening_an_up_to_date_file_writes_nothing_and_new_view_sql_rebuilds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = state_path(tmp_path, URN)
    State(path).close()

    def stamp() -> Any:
        """When the file's views were last rebuilt (each rebuild records its own time)."""
        with State(path) as opened:
            row = opened.con.execute("SELECT updated_at FROM bromsync_meta").fetchone()
            assert row is not None
            return row[0]

    first = stamp()
    assert stamp() == first  # not rebuilt
    monkeypatch.setattr("engine.state.views.views_digest", lambda: "another release")
    rebuilt = stamp()
    assert rebuilt > first
    assert stamp() == rebuilt
    with State(path) as opened:  # the rebuilt views work
        assert opened.con.execute("SELECT count(*) FROM current_pupils").fetchone() == (0,)


def test_last_column_types_are_the_latest_runs(state: State) -> None:
    assert state.last_column_types("Students") is None
    for run_id, kind in (("r1", "int"), ("r2", "string")):
        state.start_run(run_id, urn=URN, school="Oakfield", command="plan", today=TODAY)
        state.save_raw(run_id, Table("Students", {"StudentID": kind}, []), 0.0, set())
    assert state.last_column_types("Students") == {"StudentID": "string"}
    assert state.con.execute("SELECT count(*) FROM raw_students").fetchone() == (0,)


def test_uploaded_round_trips_what_was_acknowledged(state: State) -> None:
    first = _person(
        "1001",
        forename="Zoë",
        surname="Ó'Brien",
        fsm=True,
        dietary=["Halal", "Nut free"],
        fsm_end=None,
    )
    second = {
        "mis_id": "S1",
        "type": "staff",
        "status": "active",
        "fields": {"title": "Dr", "mobile": "07700900123"},
    }
    _ack(state, "u1", [first, second])
    assert state.uploaded() == {"1001": first, "S1": second}

    archived = _person(
        "1001",
        "archived",
        forename="Zoë",
        surname="O'Brien",
        fsm=False,
        dietary=[],
        fsm_end="2026-07-22",
    )
    _ack(state, "u2", [archived], batch=1)
    assert state.uploaded() == {"1001": archived, "S1": second}
    assert state.con.execute(
        "SELECT mis_id, upload_id FROM uploaded ORDER BY mis_id"
    ).fetchall() == [
        ("1001", "u2"),
        ("S1", "u1"),
    ]


def test_baseline_id_is_the_last_acknowledged_upload_not_the_largest_id(state: State) -> None:
    assert state.baseline_id() is None
    for batch, upload_id in enumerate(["u-9", "u-10", "u-2"]):
        _ack(state, upload_id, [_person(f"10{batch}")], batch=batch)
        assert state.baseline_id() == upload_id
    assert state.con.execute("SELECT seq, upload_id FROM uploads ORDER BY seq").fetchall() == [
        (1, "u-9"),
        (2, "u-10"),
        (3, "u-2"),
    ]


def test_acknowledge_is_all_or_nothing(state: State) -> None:
    _ack(state, "u1", [_person("1001", surname="Smyth"), _person("1002", surname="Jones")])
    before = state.uploaded()

    broken = {
        "mis_id": "1002",
        "type": "pupil",
        "fields": {"surname": "Smith"},
    }  # no status: fails mid-way
    with pytest.raises(KeyError):
        _ack(state, "u2", [_person("1001", surname="Smith"), broken], batch=1)

    # The delete of 1001/1002's old state and the u2 rows went with the failure.
    assert state.uploaded() == before
    assert state.baseline_id() == "u1"
    assert state.con.execute(
        "SELECT count(*) FROM upload_results WHERE upload_id = 'u2'"
    ).fetchone() == (0,)
    # ... and the state is still usable afterwards.
    _ack(state, "u3", [_person("1001", surname="Smith")], batch=2)
    assert state.uploaded()["1001"]["fields"] == {"surname": "Smith"}
    assert state.baseline_id() == "u3"


def test_acknowledge_records_every_answer_and_counts(state: State) -> None:
    state.acknowledge(
        run_id="r1",
        plan_digest="abc",
        batch=0,
        key="k-0",
        upload_id="u1",
        results=[
            {"index": 0, "op": "create", "type": "pupil", "mis_id": "1001", "status": "applied"},
            {
                "index": 1,
                "op": "create",
                "type": "staff",
                "mis_id": "S1",
                "status": "rejected",
                "code": "invalid",
                "message": "email is not an email address",
            },
        ],
        new_states=[_person("1001", surname="Smith")],
    )
    assert state.con.execute(
        "SELECT seq, run_id, plan_digest, batch, idempotency_key, applied, rejected FROM uploads"
    ).fetchall() == [
        (1, "r1", "abc", 0, "k-0", 1, 1),
    ]
    assert state.con.execute(
        "SELECT idx, op, type, mis_id, status, code, message FROM upload_results ORDER BY idx"
    ).fetchall() == [
        (0, "create", "pupil", "1001", "applied", None, None),
        (1, "create", "staff", "S1", "rejected", "invalid", "email is not an email address"),
    ]
    assert list(state.uploaded()) == ["1001"]


def test_runs_are_started_and_finished_with_their_summary(state: State) -> None:
    state.start_run("r1", urn=URN, school="Oakfield", command="plan", today=TODAY)
    assert state.con.execute("SELECT status, finished_at FROM runs").fetchone() == ("running", None)
    state.start_run("r0", urn=URN, school="Oakfield", command="plan", today=TODAY)
    state.finish_run("r0", status="failed", message="Bromcom refused the password")
    # A run with no plan has no summary: SQL NULL, not the JSON text 'null'.
    assert state.con.execute("SELECT summary IS NULL FROM runs WHERE run_id = 'r0'").fetchone() == (
        True,
    )
    summary = {"pupil": {"create": 2, "update": 0}}
    state.finish_run(
        "r1",
        status="incomplete",
        baseline="u1",
        plan_digest="abc",
        summary=summary,
        message="2 to create",
    )
    row = state.con.execute(
        "SELECT urn, school, command, today, status, baseline, plan_digest, summary->'pupil'->>'create', message, "
        "finished_at >= started_at FROM runs WHERE run_id = 'r1'"
    ).fetchone()
    assert row == (
        URN,
        "Oakfield",
        "plan",
        TODAY,
        "incomplete",
        "u1",
        "abc",
        "2",
        "2 to create",
        True,
    )


def test_a_school_wide_check_is_kept_in_the_history(state: State) -> None:
    hits = [
        CheckHit(
            "year_code_not_parentpay",
            "error",
            "pupil",
            ["1001", "1002"],
            "not a ParentPay year",
            "recode it",
        ),
        CheckHit(
            "nobody_consented", "warning", "pupil", [], "nobody has consented", "check consent"
        ),
    ]
    state.save_checks("r1", hits)
    assert state.con.execute(
        "SELECT name, severity, mis_id FROM check_results ORDER BY name, mis_id"
    ).fetchall() == [
        ("nobody_consented", "warning", None),
        ("year_code_not_parentpay", "error", "1001"),
        ("year_code_not_parentpay", "error", "1002"),
    ]


def test_query_state_reads_and_refuses_to_write(tmp_path: Path) -> None:
    with State(state_path(tmp_path, URN)) as s:
        s.start_run("r1", urn=URN, school="Oakfield", command="plan", today=TODAY)

    assert query_state(tmp_path, URN, "SELECT run_id, status FROM runs") == (
        ["run_id", "status"],
        [("r1", "running")],
    )
    for statement in (
        "DELETE FROM runs",
        "INSERT INTO runs (run_id) VALUES ('x')",
        "CREATE TABLE notes (x INT)",
    ):
        with pytest.raises(
            StateError, match=r"opens the state file .* read-only, so a query cannot change it"
        ):
            query_state(tmp_path, URN, statement)
    assert query_state(tmp_path, URN, "SELECT count(*) FROM runs")[1] == [(1,)]


def test_query_state_names_a_missing_school_and_a_bad_query(tmp_path: Path) -> None:
    with pytest.raises(StateError, match=r"no state for URN 100002 .* run `bromsync plan`"):
        query_state(tmp_path, 100002, "SELECT 1")
    State(state_path(tmp_path, URN)).close()
    with pytest.raises(StateError, match=r"the query failed: .*pupils_on_roll"):
        query_state(tmp_path, URN, "SELECT * FROM pupils_on_roll")


def test_a_state_open_for_writing_in_this_process_cannot_be_opened_again(tmp_path: Path) -> None:
    path = state_path(tmp_path, URN)
    with State(path), pytest.raises(StateError, match="cannot open the state file"):
        State(path, read_only=True).close()
    # Once closed, it opens.
    State(path, read_only=True).close()


def test_a_run_left_running_by_a_kill_is_marked_interrupted_by_the_next(tmp_path: Path) -> None:
    path = state_path(tmp_path, URN)
    with State(path) as s:
        s.start_run("r1", urn=URN, school="Oakfield", command="plan", today=TODAY)
        s.finish_run("r1", status="ok", message="2 to create")
        s.start_run("r2", urn=URN, school="Oakfield", command="run", today=TODAY)
        # killed here: r2 never finishes
    with State(path) as s:
        assert s.con.execute("SELECT status FROM runs WHERE run_id = 'r2'").fetchone() == (
            "running",
        )  # opening the file changes nothing; starting the next run does
        s.start_run("r3", urn=URN, school="Oakfield", command="apply", today=TODAY)
        rows = s.con.execute(
            "SELECT run_id, status, message, finished_at FROM runs ORDER BY run_id"
        ).fetchall()
    assert rows == [
        ("r1", "ok", "2 to create", rows[0][3]),
        (
            "r2",
            "interrupted",
            "interrupted: it stopped before it finished (killed, or the machine went down); "
            "found when run r3 started",
            None,
        ),
        ("r3", "running", None, None),
    ]


def test_plan_uploads_says_which_batches_of_a_plan_were_acknowledged(state: State) -> None:
    def ack(upload_id: str, digest: str, batch: int, count: int) -> None:
        results = [
            {"index": 500 * batch + i, "op": "create", "type": "pupil", "mis_id": f"{batch}-{i}"}
            | {"status": "applied"}
            for i in range(count)
        ]
        state.acknowledge(
            run_id="r1",
            plan_digest=digest,
            batch=batch,
            key=f"k-{digest}-{batch}",
            upload_id=upload_id,
            results=results,
            new_states=[],
        )

    assert state.plan_uploads("a") is None
    ack("u1", "a", 0, 3)
    ack("u2", "b", 0, 2)
    ack("u3", "b", 1, 1)
    b = state.plan_uploads("b")
    assert b is not None
    assert (b.batches, b.operations, b.before, b.latest) == (frozenset({0, 1}), 3, "u1", True)
    assert len(b.first_at) == len("2026-11-28 10:57")
    a = state.plan_uploads("a")
    assert a is not None and (a.batches, a.before, a.latest) == (frozenset({0}), None, False)
    ack("u4", "c", 0, 1)
    ack("u5", "b", 2, 1)  # b's batches are the latest again, but c came in between
    b = state.plan_uploads("b")
    assert b is not None and (b.batches, b.latest) == (frozenset({0, 1, 2}), False)


# personal data: owner-only files, retention ----------------------------------------------------


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def loose_umask() -> Iterator[None]:
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_a_new_state_file_and_its_folder_are_the_owners_only(
    tmp_path: Path, loose_umask: None
) -> None:
    path = state_path(tmp_path / "state" / "trust", URN)
    with State(path) as s:
        s.save_raw("r1", Table("Students", {"StudentID": "int"}, [{"StudentID": 1}]), 0.1)
        assert _mode(path) == 0o600
    assert [_mode(p) for p in (tmp_path / "state", path.parent, path)] == [0o700, 0o700, 0o600]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # the WAL is gone


def test_a_state_left_open_to_others_is_tightened_when_opened(
    tmp_path: Path, loose_umask: None
) -> None:
    path = state_path(tmp_path / "state", URN)
    State(path).close()
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    State(path, read_only=True).close()  # reading changes nothing
    assert (_mode(path.parent), _mode(path)) == (0o755, 0o644)
    State(path).close()
    assert (_mode(path.parent), _mode(path)) == (0o700, 0o600)


def test_an_in_memory_state_touches_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    os.chmod(tmp_path, 0o755)
    monkeypatch.chdir(tmp_path)
    State(Path(":memory:")).close()
    assert _mode(tmp_path) == 0o755 and list(tmp_path.iterdir()) == []


def _staged(state: State, run_id: str, *, entities: tuple[str, ...] = ("Students",)) -> None:
    """One plan-like run: fetches, two records, a check on both and a school-wide one."""
    state.start_run(run_id, urn=URN, school="Oakfield", command="plan", today=TODAY)
    for entity in entities:
        state.save_raw(run_id, Table(entity, {"ID": "int"}, [{"ID": 1}]), 0.1)
    state.save_records(
        run_id, [_person(m, surname=f"Surname of {m}") | {"type": "pupil"} for m in ("1", "2")]
    )
    state.save_checks(
        run_id,
        [
            CheckHit("payer_email_missing", "warning", "pupil", ["1", "2"], "no email", "add one"),
            CheckHit("nobody_consented", "warning", "pupil", [], "nobody", "tick consent"),
        ],
    )
    state.finish_run(run_id, status="ok", summary={"pupil": {"create": 2}})


def _staged_runs(state: State) -> list[str]:
    rows = state.con.execute(
        "SELECT DISTINCT run_id FROM records UNION SELECT DISTINCT run_id FROM fetches ORDER BY 1"
    ).fetchall()
    return [r for (r,) in rows]


def test_retention_keeps_the_staged_rows_of_the_last_30_runs_only(state: State) -> None:
    ids = [f"r{n:02}" for n in range(1, 36)]
    for run_id in ids:
        _staged(state, run_id)
    _ack(state, "u1", [_person("1", surname="Surname of 1")])  # r1's push is kept for ever
    # An apply stages nothing: it does not push a plan's records out of the last 30.
    state.start_run("z-apply", urn=URN, school="Oakfield", command="apply", today=TODAY)
    state.finish_run("z-apply", status="ok")

    assert state.prune_staged() == 5
    assert _staged_runs(state) == ids[5:]
    assert state.con.execute("SELECT count(*) FROM runs").fetchone() == (36,)
    assert state.con.execute("SELECT count(*) FROM upload_results").fetchone() == (1,)
    assert state.con.execute("SELECT count(*) FROM uploaded").fetchone() == (1,)
    # An older run keeps its check results, one row per check, with the records it counted.
    assert state.con.execute(
        "SELECT name, mis_id, flagged, message FROM check_results WHERE run_id = 'r01' "
        "ORDER BY name"
    ).fetchall() == [
        ("nobody_consented", None, 0, "nobody"),
        ("payer_email_missing", None, 2, "no email"),
    ]
    assert state.con.execute(
        "SELECT mis_id, flagged FROM check_results WHERE run_id = 'r06' ORDER BY mis_id NULLS FIRST"
    ).fetchall() == [(None, 0), ("1", 1), ("2", 1)]
    counted = state.con.execute(
        "SELECT DISTINCT sum(flagged) FROM check_history WHERE name = 'payer_email_missing' "
        "GROUP BY run_id"
    ).fetchall()
    assert counted == [(2,)]  # the same count for every run, kept in full or folded
    assert state.con.execute("SELECT run_id FROM current_run").fetchone() == ("r35",)

    assert state.prune_staged() == 0  # nothing more to do
    assert state.con.execute("SELECT count(*) FROM check_results").fetchone() == (5 * 2 + 30 * 3,)


def test_retention_drops_a_raw_table_no_kept_run_fetched(state: State) -> None:
    _staged(state, "r00", entities=("Students", "Staff"))
    for n in range(1, 31):
        _staged(state, f"r{n:02}")
    assert state.prune_staged(keep=30) == 1
    tables = {t for (t,) in state.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "raw_students" in tables and "raw_staff" not in tables


def test_every_run_prunes_when_it_ends_whatever_its_outcome(state: State) -> None:
    for _ in range(31):
        with state.run(urn=URN, school="Oakfield", command="plan", today=TODAY) as log:
            state.save_records(log.run_id, [_person("1") | {"type": "pupil"}])
    assert len(_staged_runs(state)) == 30
    with (
        pytest.raises(StateError),
        state.run(urn=URN, school="Oakfield", command="plan", today=TODAY) as log,
    ):
        state.save_records(log.run_id, [_person("1") | {"type": "pupil"}])
        raise StateError("Bromcom went away")
    assert len(_staged_runs(state)) == 30
    assert state.con.execute("SELECT count(*) FROM runs").fetchone() == (32,)
