"""engine/views.py: the stable views, the schema version, and querying every school at once.

A few runs go through State's own methods into real DuckDB files; each view's rows are then
asserted, docs/state.md is held to the views' real columns, and its example queries are run.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engine.checks.run import CheckHit
from engine.errors import StateError
from engine.records import RECORD_FIELDS, Record
from engine.sources import Table
from engine.state.query import attach_all, query_all, query_state
from engine.state.store import _SCHEMA, State, state_path
from engine.state.views import SCHEMA_VERSION, TABLES, VIEWS
from tests.helpers import REPO as ROOT

TODAY = dt.date(2026, 11, 28)


def _pupil(mis_id: str, year: str, *, fsm: bool = False, **more: Any) -> Record:
    fields = {n: None for n in RECORD_FIELDS["pupil"]}
    fields.update(
        surname=f"Surname{mis_id}",
        forename="Ann",
        dob="2018-05-01",
        year_code=year,
        fsm=fsm,
        dietary=[],
    )
    fields.update(more)
    return {"mis_id": mis_id, "type": "pupil", "fields": fields}


def _staff(mis_id: str) -> Record:
    return {
        "mis_id": mis_id,
        "type": "staff",
        "fields": {
            "title": "Ms",
            "forename": "Jo",
            "surname": "Bell",
            "email": "jo@school.example",
            "mobile": None,
        },
    }


def _preadmission(mis_id: str) -> Record:
    fields = {n: None for n in RECORD_FIELDS["preadmission"]}
    fields.update(surname="New", year_code="R", admission_date="2027-09-03", fsm=False, dietary=[])
    return {"mis_id": mis_id, "type": "preadmission", "fields": fields}


def _active(record: Record) -> Record:
    return {**record, "status": "active"}


def _result(
    i: int, op: str, record: Record, status: str = "applied", code: str | None = None
) -> dict[str, Any]:
    return {
        "index": i,
        "op": op,
        "type": record["type"],
        "mis_id": record["mis_id"],
        "status": status,
        "code": code,
        "message": None if code is None else "email is not an email address",
    }


def _run(state: State, run_id: str, command: str, *, urn: int) -> None:
    state.start_run(run_id, urn=urn, school=f"School {urn}", command=command, today=TODAY)


def make_school(state_dir: Path, urn: int) -> None:
    """Five runs: a plan, a run that pushed, a failed plan, an apply, and one still running."""
    p1, p2 = (
        _pupil("1001", "3", fsm=True, fsm_start="2026-09-01", dietary=["Halal"]),
        _pupil("1002", "4"),
    )
    p3, held = _pupil("1003", "R", fsm=True), _pupil("1004", "Y5")
    students = Table("Students", {"StudentId": "int"}, [{"StudentId": 1}])
    with State(state_path(state_dir, urn)) as s:
        _run(s, "r1", "plan", urn=urn)
        s.save_raw("r1", students, 0.1)
        s.save_records("r1", [p1, p2, _staff("S1"), _preadmission("A1")])
        s.save_checks(
            "r1",
            [CheckHit("pupil_without_payer", "warning", "pupil", ["1002"], "no payer", "add one")],
        )
        s.finish_run("r1", status="ok")

        _run(s, "r2", "run", urn=urn)
        s.save_raw("r2", students, 0.1)
        s.save_records("r2", [p1, p2, p3, _staff("S1"), held])
        s.mark_held("r2", [held["mis_id"]])
        s.save_checks(
            "r2",
            [
                CheckHit(
                    "year_code_not_parentpay", "error", "pupil", ["1004"], "not a year", "recode"
                ),
                CheckHit(
                    "nobody_consented", "warning", "pupil", [], "nobody consented", "check consent"
                ),
            ],
        )
        s.acknowledge(
            run_id="r2",
            plan_digest="d2",
            batch=0,
            key="k0",
            upload_id="u1",
            results=[
                _result(0, "create", p1),
                _result(1, "create", p2),
                _result(2, "create", p3),
                _result(3, "create", _staff("S1"), "rejected", "invalid"),
            ],
            new_states=[_active(p1), _active(p2), _active(p3)],
        )
        moved = _active(p1)
        moved["fields"] = {**p1["fields"], "year_code": "4"}
        s.acknowledge(
            run_id="r2",
            plan_digest="d2",
            batch=1,
            key="k1",
            upload_id="u2",
            results=[_result(4, "update", p1)],
            new_states=[moved],
        )
        s.finish_run("r2", status="incomplete", summary={"pupil": {"create": 3}})

        _run(s, "r3", "plan", urn=urn)
        s.save_raw("r3", students, 0.1)
        s.save_records("r3", [_pupil("1005", "6")])
        s.finish_run("r3", status="failed", message="Bromcom refused the password")

        _run(s, "r4", "apply", urn=urn)
        s.acknowledge(
            run_id="r4",
            plan_digest="d4",
            batch=0,
            key="k0",
            upload_id="u3",
            results=[_result(0, "archive", p3)],
            new_states=[{**_active(p3), "status": "archived"}],
        )
        s.finish_run("r4", status="ok")

        _run(s, "r5", "run", urn=urn)
        s.save_raw("r5", students, 0.1)
        s.save_records("r5", [_pupil("1006", "6")])


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One school's state, shared by the tests that only read it."""
    state_dir = tmp_path_factory.mktemp("school")
    make_school(state_dir, 100001)
    return state_dir


def _q(state_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    return query_state(state_dir, 100001, sql)[1]


def test_current_records_are_the_latest_finished_run_typed(school: Path) -> None:
    assert _q(school, "SELECT run_id, command, status FROM current_run") == [
        ("r2", "run", "incomplete")
    ]
    assert _q(
        school,
        "SELECT mis_id, held, year_code, fsm, dob, fsm_start, dietary FROM current_pupils ORDER BY mis_id",
    ) == [
        ("1001", False, "3", True, dt.date(2018, 5, 1), dt.date(2026, 9, 1), ["Halal"]),
        ("1002", False, "4", False, dt.date(2018, 5, 1), None, []),
        ("1003", False, "R", True, dt.date(2018, 5, 1), None, []),
        ("1004", True, "Y5", False, dt.date(2018, 5, 1), None, []),
    ]
    assert _q(school, "SELECT run_id, mis_id, title, email FROM current_staff") == [
        ("r2", "S1", "Ms", "jo@school.example")
    ]
    # r1 had a pre-admission; the current run has none.
    assert _q(school, "SELECT count(*) FROM current_preadmissions") == [(0,)]
    assert _q(school, "SELECT run_id, mis_id, admission_date FROM staged_preadmission") == [
        ("r1", "A1", "2027-09-03")
    ]


def test_acknowledged_people_is_what_parentpay_has(school: Path) -> None:
    assert _q(
        school,
        "SELECT mis_id, type, status, year_code, fsm, dob, upload_id FROM acknowledged_people ORDER BY mis_id",
    ) == [
        ("1001", "pupil", "active", "4", True, dt.date(2018, 5, 1), "u2"),
        ("1002", "pupil", "active", "4", False, dt.date(2018, 5, 1), "u1"),
        ("1003", "pupil", "archived", "R", True, dt.date(2018, 5, 1), "u3"),
    ]


def test_changes_per_run_and_rejections(school: Path) -> None:
    assert _q(
        school, "SELECT run_id, command, type, op, applied, rejected FROM changes_per_run"
    ) == [
        ("r2", "run", "pupil", "create", 3, 0),
        ("r2", "run", "pupil", "update", 1, 0),
        ("r2", "run", "staff", "create", 0, 1),
        ("r4", "apply", "pupil", "archive", 1, 0),
    ]
    assert _q(school, "SELECT run_id, upload_id, idx, op, type, mis_id, code FROM rejections") == [
        ("r2", "u1", 3, "create", "staff", "S1", "invalid"),
    ]


def test_check_history_carries_the_runs_time_and_outcome(school: Path) -> None:
    assert _q(school, "SELECT run_id, run_status, name, severity, mis_id FROM check_history") == [
        ("r1", "ok", "pupil_without_payer", "warning", "1002"),
        ("r2", "incomplete", "nobody_consented", "warning", None),
        ("r2", "incomplete", "year_code_not_parentpay", "error", "1004"),
    ]
    assert _q(
        school,
        "SELECT count(*) FROM check_history c JOIN runs r USING (run_id) "
        "WHERE c.run_started_at = r.started_at",
    ) == [(3,)]


def test_a_new_file_records_the_schema_version_once(tmp_path: Path) -> None:
    path = state_path(tmp_path, 1)
    for _ in range(2):
        State(path).close()
    assert _q_file(path, "SELECT schema_version FROM bromsync_meta") == [(SCHEMA_VERSION,)]


def _q_file(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _old_file(path: Path) -> None:
    """A state file as bromsync wrote it before the views: the tables, no bromsync_meta."""
    con = duckdb.connect(str(path))
    # fetches.column_types came with schema 2, check_results.flagged with schema 3,
    # fetches.digest with schema 4.
    con.execute(_SCHEMA.replace(", flagged INTEGER", "").replace(",\n    digest VARCHAR", ""))
    con.execute("ALTER TABLE fetches DROP COLUMN column_types")
    con.execute(
        "INSERT INTO runs (run_id, urn, command, started_at, status) VALUES ('r0', 100001, 'run', now()::TIMESTAMP, 'ok')"
    )
    con.execute("INSERT INTO fetches VALUES ('r0', 'Students', 1, 0.1)")
    con.execute(
        """INSERT INTO records VALUES ('r0', 'pupil', '1001', '{"year_code": "2", "fsm": true}', false)"""
    )
    con.close()


def test_an_older_file_is_upgraded_when_opened_for_writing(tmp_path: Path) -> None:
    path = state_path(tmp_path, 100001)
    _old_file(path)
    # Read-only, it gets the views for the query without being changed.
    assert _q(tmp_path, "SELECT mis_id, year_code, fsm FROM current_pupils") == [
        ("1001", "2", True)
    ]
    assert _q_file(
        path, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'bromsync_meta'"
    ) == [(0,)]

    State(path).close()
    assert _q_file(path, "SELECT schema_version FROM bromsync_meta") == [(SCHEMA_VERSION,)]
    assert _q_file(path, "SELECT mis_id, year_code FROM current_pupils") == [("1001", "2")]
    views = {v for (v,) in _q_file(path, "SELECT view_name FROM duckdb_views() WHERE NOT internal")}
    assert views == set(VIEWS)
    # Version 2's column: the old fetch is kept, with no types recorded.
    assert _q_file(path, "SELECT entity, column_types FROM fetches") == [("Students", None)]


def test_a_file_from_a_newer_bromsync_is_refused_for_writing_but_readable(tmp_path: Path) -> None:
    path = state_path(tmp_path, 100001)
    State(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE bromsync_meta SET schema_version = 99")
    con.close()
    with pytest.raises(
        StateError,
        match=rf"written by a newer bromsync \(state schema 99; this bromsync knows up to {SCHEMA_VERSION}\)",
    ):
        State(path)
    assert _q(tmp_path, "SELECT schema_version FROM bromsync_meta") == [(99,)]


# all schools at once --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two schools and a file from before the views; the tests only read them."""
    tmp_path = tmp_path_factory.mktemp("trust")
    make_school(tmp_path, 100001)
    make_school(tmp_path, 100002)
    _old_file(state_path(tmp_path, 100003))
    (tmp_path / "scratch.duckdb").write_bytes(b"")  # not a school's state: ignored
    return tmp_path


def test_query_all_answers_across_schools(trust: Path) -> None:
    columns, rows = query_all(
        trust, "SELECT urn, count(*) AS pupils FROM all_current_pupils GROUP BY urn ORDER BY urn"
    )
    assert (columns, rows) == (["urn", "pupils"], [(100001, 4), (100002, 4), (100003, 1)])
    assert query_all(trust, "SELECT urn, alias, schema_version FROM schools")[1] == [
        (100001, "s_100001", SCHEMA_VERSION),
        (100002, "s_100002", SCHEMA_VERSION),
        (100003, "s_100003", 0),
    ]
    columns, rows = query_all(trust, "SELECT * FROM all_runs WHERE run_id = 'r4' ORDER BY urn")
    assert columns[:3] == ["urn", "run_id", "school"] and [r[0] for r in rows] == [100001, 100002]
    assert query_all(trust, "SELECT count(*) FROM s_100002.raw_students")[1] == [(1,)]


def test_every_table_and_view_has_an_all_schools_view(trust: Path) -> None:
    con = attach_all(trust)
    try:
        for name in (*TABLES, *VIEWS):
            columns = [
                c
                for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE all_{name})").fetchall()
            ]
            own = [
                c
                for (c,) in con.execute(
                    f"SELECT column_name FROM (DESCRIBE s_100001.{name})"
                ).fetchall()
            ]
            assert columns == ["urn", *(c for c in own if c != "urn")], name
    finally:
        con.close()


def test_query_all_can_pick_schools_and_names_missing_ones(trust: Path) -> None:
    assert query_all(trust, "SELECT urn FROM schools", urns=[100002])[1] == [(100002,)]
    with pytest.raises(StateError, match=r"no state in .* for URN 100009: run `bromsync plan`"):
        query_all(trust, "SELECT 1", urns=[100002, 100009])
    with pytest.raises(StateError, match=r"there is no state folder .*missing: pass --state-dir"):
        query_all(trust / "missing", "SELECT 1")
    empty = trust / "empty"
    empty.mkdir()
    with pytest.raises(StateError, match=r"no school state files \(<urn>.duckdb\) in"):
        query_all(empty, "SELECT 1")


def test_query_all_cannot_change_a_school(trust: Path) -> None:
    with pytest.raises(StateError, match="attached read-only, so a query cannot change them"):
        query_all(trust, "DELETE FROM s_100001.runs")
    assert query_all(trust, "SELECT count(*) FROM all_runs WHERE urn = 100001")[1] == [(5,)]


_HOLD = """
import sys
from pathlib import Path
from engine.state.store import State
state = State(Path(sys.argv[1]))
print("open", flush=True)
sys.stdin.readline()
state.close()
"""


def test_a_school_being_written_is_named_as_busy(trust: Path) -> None:
    path = state_path(trust, 100002)
    writer = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "open\n", writer.stderr
        with pytest.raises(
            StateError, match=re.escape(f"the state file {path} (URN 100002) is busy")
        ):
            query_all(trust, "SELECT count(*) FROM all_runs")
        # The others can still be queried.
        assert query_all(trust, "SELECT count(*) FROM all_runs", urns=[100001])[1] == [(5,)]
    finally:
        writer.communicate("\n", timeout=10)
    assert writer.returncode == 0


def test_a_school_open_for_writing_in_this_process_is_busy_too(trust: Path) -> None:
    with (
        State(state_path(trust, 100001)),
        pytest.raises(StateError, match=r"\(URN 100001\) is busy"),
    ):
        query_all(trust, "SELECT 1")


_WRITE = """
import sys
from pathlib import Path
from engine.errors import StateError
from engine.state.store import State
try:
    State(Path(sys.argv[1])).close()
except StateError as exc:
    print(exc)
    sys.exit(1)
"""


def test_while_an_analyst_holds_the_files_bromsync_cannot_write(trust: Path) -> None:
    path = state_path(trust, 100001)
    con = attach_all(trust)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _WRITE, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=20,
        )
    finally:
        con.close()
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(f"cannot open the state file {path}: ")
    assert "wait for it to finish" in done.stdout
    State(path).close()  # and once the analyst is done, it can


# docs/state.md and docs/analysts.md -----------------------------------------------------------


def _documented(doc: str) -> dict[str, list[tuple[str, str]]]:
    """`### name` or `#### name` -> the (column, type) rows of the table under it."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in doc.splitlines():
        heading = re.fullmatch(r"#{3,4} `([a-z_]+)`", line)
        if heading:
            current = heading.group(1)
            out[current] = []
        elif line.startswith("#"):
            current = None
        elif current and (
            row := re.match(r"\| (`[a-z_]+`|\*[a-z ]+\*) \|\s*([A-Z\[\]]*)\s*\|", line)
        ):
            out[current].append((row.group(1), row.group(2)))
    return out


def _field_types(doc: str) -> dict[str, tuple[str, str]]:
    rows = re.findall(r"^\| `([a-z_]+)` \| [a-z, ]+ \| ([A-Z\[\]]+) \| ([A-Z\[\]]+) \|", doc, re.M)
    return {name: (current, staged) for name, current, staged in rows}


def _expand(
    view: str, rows: list[tuple[str, str]], fields: dict[str, tuple[str, str]]
) -> list[tuple[str, str]]:
    out = []
    for column, kind in rows:
        if column.startswith("*"):
            words = column.strip("*").split()
            names = list(fields) if words[0] == "all" else RECORD_FIELDS[words[0]]
            family = 1 if view.startswith("staged_") else 0
            out += [(n, fields[n][family]) for n in names]
        else:
            out.append((column.strip("`"), kind))
    return out


def test_docs_state_md_documents_every_column_of_every_view_and_table(school: Path) -> None:
    doc = (ROOT / "docs" / "state.md").read_text(encoding="utf-8")
    documented = _documented(doc)
    fields = _field_types(doc)
    assert list(fields) == list(dict.fromkeys(n for names in RECORD_FIELDS.values() for n in names))
    con = duckdb.connect(str(state_path(school, 100001)), read_only=True)
    try:
        for name in (*VIEWS, *TABLES, "bromsync_meta", "guard_releases"):
            assert name in documented, f"docs/state.md does not document {name}"
            real = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {name})").fetchall()
            assert _expand(name, documented[name], fields) == real, name
    finally:
        con.close()


def _sql_blocks(doc: str) -> list[str]:
    return re.findall(r"```sql\n(.*?)```", doc, re.S)


def test_docs_example_queries_run(trust: Path) -> None:
    state_doc = (ROOT / "docs" / "state.md").read_text(encoding="utf-8")
    blocks = _sql_blocks(state_doc)
    assert len(blocks) >= 6
    for sql in blocks:
        query_state(trust, 100001, sql)
    # Pupils per year group, in ParentPay's order; a code ParentPay does not know sorts last.
    assert query_state(trust, 100001, blocks[0])[1] == [("R", 1), ("3", 1), ("4", 1), ("Y5", 1)]
    assert query_state(trust, 100001, blocks[2])[1] == [("pupil", "archive", 1, 0)]

    analysts = _sql_blocks((ROOT / "docs" / "analysts.md").read_text(encoding="utf-8"))
    assert len(analysts) >= 4
    for sql in analysts:
        query_all(trust, sql)
    assert query_all(trust, analysts[0])[1] == [
        (100001, "School 100001", 4, 2),
        (100002, "School 100002", 4, 2),
        (100003, None, 1, 1),
    ]
