"""The analysts' interface to the state: stable views in every state file, and all schools at once.

The views are a public interface (dashboards and notebooks are built on them), so their names
and columns only change with a new `SCHEMA_VERSION`, recorded in each file's `bromsync_meta`
table. `docs/state.md` documents every column; tests/engine/state/test_views.py holds the two to
each other.

Each view body is written with a `{db}` catalog prefix: empty inside a state file, `s_<urn>.`
when `query_all` builds the cross-school `all_<name>` views. Building the union from this
module's own SQL (not from each file's stored views) means every school answers with the same
columns, even a file written before the views existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import StateError
from engine.records import DATE_FIELDS, RECORD_FIELDS, RECORD_TYPES

SCHEMA_VERSION = 1

# The base tables, created by engine/state/store.py; query_all unions each of them across schools.
TABLES = ("runs", "fetches", "records", "check_results", "uploaded", "uploads", "upload_results")

# Statements that bring a file from version N-1 to N, run in order before the views are
# (re)built. Version 1 added bromsync_meta and the stable views, which every writable open
# rebuilds anyway, so it changes no table; a later version that adds a column adds here e.g.
# `ALTER TABLE runs ADD COLUMN IF NOT EXISTS ...`.
_MIGRATIONS: dict[int, tuple[str, ...]] = {}

_META = "CREATE TABLE IF NOT EXISTS bromsync_meta (schema_version INTEGER NOT NULL, updated_at TIMESTAMP)"

# Every field of every type, in first-seen order: the columns of acknowledged_people.
_ALL_FIELDS = tuple(dict.fromkeys(name for names in RECORD_FIELDS.values() for name in names))


def _staged_field(name: str) -> str:
    # The checks' SQL compares staged dates as ISO text; staged_<type> keeps them text.
    if name == "fsm":
        return "(fields->>'fsm')::BOOLEAN AS fsm"
    if name == "dietary":
        return "CAST(fields->'dietary' AS VARCHAR[]) AS dietary"
    return f"fields->>'{name}' AS {name}"


def _typed_field(name: str) -> str:
    # TRY_CAST: one malformed date in one record must not make the whole view fail to read.
    if name in DATE_FIELDS:
        return f"TRY_CAST(fields->>'{name}' AS DATE) AS {name}"
    if name == "fsm":
        return "TRY_CAST(fields->>'fsm' AS BOOLEAN) AS fsm"
    return _staged_field(name)


# The run the current_* views show: the latest plan/run that finished ok or incomplete (a
# guard or check held something back) and got as far as fetching from Bromcom. `apply` runs
# fetch nothing, so they never hide the plan they pushed.
_CURRENT_RUN = (
    "SELECT r.run_id FROM {db}runs r WHERE r.status IN ('ok', 'incomplete') "
    "AND EXISTS (SELECT 1 FROM {db}fetches f WHERE f.run_id = r.run_id) "
    "ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1"
)


def _bodies() -> dict[str, str]:
    """Every stable view's SELECT, in creation order, with `{db}` before each table name."""
    out: dict[str, str] = {}
    for kind, names in RECORD_FIELDS.items():
        columns = ", ".join(_staged_field(n) for n in names)
        out[f"staged_{kind}"] = (
            f"SELECT run_id, mis_id, held, {columns} FROM {{db}}records WHERE type = '{kind}'"
        )
    out["current_run"] = (
        "SELECT run_id, school, command, today, started_at, finished_at, status, baseline, plan_digest "
        f"FROM {{db}}runs WHERE run_id = ({_CURRENT_RUN})"
    )
    for kind, view in ((t.name, t.view) for t in RECORD_TYPES.values()):
        columns = ", ".join(_typed_field(n) for n in RECORD_FIELDS[kind])
        out[view] = (
            f"SELECT run_id, mis_id, held, {columns} FROM {{db}}records "
            f"WHERE type = '{kind}' AND run_id = ({_CURRENT_RUN})"
        )
    columns = ", ".join(_typed_field(n) for n in _ALL_FIELDS)
    out["acknowledged_people"] = (
        f"SELECT mis_id, type, status, {columns}, upload_id, acknowledged_at FROM {{db}}uploaded"
    )
    out["changes_per_run"] = (
        "SELECT u.run_id, r.command, r.started_at AS run_started_at, x.type, x.op, "
        "count(*) FILTER (WHERE x.status = 'applied') AS applied, "
        "count(*) FILTER (WHERE x.status = 'rejected') AS rejected "
        "FROM {db}upload_results x JOIN {db}uploads u ON u.upload_id = x.upload_id "
        "LEFT JOIN {db}runs r ON r.run_id = u.run_id "
        "GROUP BY u.run_id, r.command, r.started_at, x.type, x.op "
        "ORDER BY run_started_at, u.run_id, x.type, x.op"
    )
    out["rejections"] = (
        "SELECT u.run_id, u.acknowledged_at, x.upload_id, x.idx, x.op, x.type, x.mis_id, x.code, x.message "
        "FROM {db}upload_results x JOIN {db}uploads u ON u.upload_id = x.upload_id "
        "WHERE x.status = 'rejected' ORDER BY u.seq, x.idx"
    )
    out["check_history"] = (
        "SELECT c.run_id, r.started_at AS run_started_at, r.command, r.status AS run_status, "
        "c.name, c.severity, c.type, c.mis_id, c.message, c.remediation "
        "FROM {db}check_results c LEFT JOIN {db}runs r ON r.run_id = c.run_id "
        "ORDER BY run_started_at, c.run_id, c.name, c.mis_id"
    )
    return out


VIEWS: tuple[str, ...] = tuple(_bodies())
"""The stable view names, documented in docs/state.md."""


def view_sql(name: str, db: str = "") -> str:
    """The SELECT of the stable view `name`, its tables read from catalog `db` (e.g. 's_100001.')."""
    return _bodies()[name].replace("{db}", db)


def create_views(con: duckdb.DuckDBPyConnection, *, temporary: bool = False) -> None:
    """(Re)create every stable view; `temporary` for a read-only connection to an older file."""
    kind = "TEMP VIEW" if temporary else "VIEW"
    for name in VIEWS:
        con.execute(f"CREATE OR REPLACE {kind} {name} AS {view_sql(name)}")


def schema_version(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> int:
    """The schema version a state file records; 0 for a file written before versions existed."""
    where = "" if catalog is None else f" AND database_name = '{catalog}'"
    found = con.execute(
        f"SELECT count(*) FROM duckdb_tables() WHERE table_name = 'bromsync_meta'{where}"
    ).fetchone()
    if not found or not found[0]:
        return 0
    prefix = "" if catalog is None else f"{catalog}."
    row = con.execute(f"SELECT max(schema_version) FROM {prefix}bromsync_meta").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def ensure_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Bring a writable state file up to `SCHEMA_VERSION`: migrations, views, version, atomically."""
    con.execute(_META)
    found = schema_version(con)
    if found > SCHEMA_VERSION:
        raise StateError(
            f"the state file {path} was written by a newer bromsync (state schema {found}; this "
            f"bromsync knows up to {SCHEMA_VERSION}). Upgrade bromsync on this machine before "
            "running it for this school; nothing was changed."
        )
    con.execute("BEGIN TRANSACTION")
    try:
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS.get(version, ()):
                con.execute(statement)
        # Rebuilt on every writable open: idempotent, and keeps each file's views exactly the
        # ones this bromsync documents.
        create_views(con)
        if found < SCHEMA_VERSION:
            con.execute("DELETE FROM bromsync_meta")
            con.execute("INSERT INTO bromsync_meta VALUES (?, now()::TIMESTAMP)", [SCHEMA_VERSION])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# all schools at once ---------------------------------------------------------------------------


def _state_files(state_dir: Path, urns: Iterable[int] | None) -> dict[int, Path]:
    if not state_dir.is_dir():
        raise StateError(
            f"there is no state folder {state_dir}: pass --state-dir or set BROMSYNC_STATE_DIR"
        )
    found = {int(p.stem): p for p in state_dir.glob("*.duckdb") if re.fullmatch(r"\d+", p.stem)}
    if urns is not None:
        wanted = sorted(set(urns))
        missing = [u for u in wanted if u not in found]
        if missing:
            raise StateError(
                f"no state in {state_dir} for URN {', '.join(map(str, missing))}: run `bromsync plan` "
                "or `bromsync run` for those schools first"
            )
        found = {u: found[u] for u in wanted}
    if not found:
        raise StateError(
            f"no school state files (<urn>.duckdb) in {state_dir}: run `bromsync plan` or "
            "`bromsync run` first, or pass --state-dir"
        )
    return dict(sorted(found.items()))


def _attach(con: duckdb.DuckDBPyConnection, urn: int, path: Path) -> None:
    quoted = str(path.resolve()).replace("'", "''")
    try:
        con.execute(f"ATTACH '{quoted}' AS s_{urn} (READ_ONLY)")
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower() or isinstance(exc, getattr(duckdb, "ResourceInUseException", ())):
            raise StateError(
                f"the state file {path} (URN {urn}) is busy: another program has it open for "
                "writing, most likely a `bromsync plan` or `run` for that school (or a duckdb "
                "session opened without -readonly). Nothing was queried; wait for it to finish "
                f"and try again, or leave that school out. ({text.splitlines()[0]})"
            ) from exc
        raise StateError(f"cannot read the state file {path} (URN {urn}): {text}") from exc


def attach_all(state_dir: Path, urns: Iterable[int] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every school's state attached read-only, plus cross-school views.

    Each file is attached as `s_<urn>`. The `schools` view lists them; `all_<name>` is the
    union of table or stable view `<name>` over every school, with a leading `urn` column.
    Close the connection promptly: while it is open, bromsync cannot write to those files.
    """
    files = _state_files(state_dir, urns)
    con = duckdb.connect()
    try:
        for urn, path in files.items():
            _attach(con, urn, path)
        rows = ", ".join(
            f"({urn}, 's_{urn}', '{str(path.resolve()).replace(chr(39), chr(39) * 2)}', "
            f"{schema_version(con, f's_{urn}')})"
            for urn, path in files.items()
        )
        con.execute(
            f"CREATE VIEW schools AS SELECT * FROM (VALUES {rows}) t(urn, alias, path, schema_version)"
        )
        for name in TABLES:
            # The urn comes from the file's name; runs' own urn column says the same thing.
            drop = " EXCLUDE (urn)" if name == "runs" else ""
            parts = [f"SELECT {urn} AS urn, *{drop} FROM s_{urn}.{name}" for urn in files]
            # BY NAME: a file written by a newer bromsync may have extra columns.
            con.execute(f"CREATE VIEW all_{name} AS " + " UNION ALL BY NAME ".join(parts))
        for name in VIEWS:
            parts = [
                f"SELECT {urn} AS urn, * FROM ({view_sql(name, f's_{urn}.')})" for urn in files
            ]
            con.execute(f"CREATE VIEW all_{name} AS " + " UNION ALL BY NAME ".join(parts))
    except BaseException:
        con.close()
        raise
    return con


def query_all(
    state_dir: Path, query: str, *, urns: Iterable[int] | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run an analyst's query across every school's state (read-only); its column names and rows."""
    con = attach_all(state_dir, urns)
    try:
        return run_query(
            con,
            query,
            "the school state files are attached read-only, so a query cannot change them",
        )
    finally:
        con.close()


def query_state(state_dir: Path, urn: int, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run an analyst's query on a school's state, read-only; its column names and rows."""
    from engine.state.store import State, state_path  # stage imports this module to build its views

    path = state_path(state_dir, urn)
    if not path.exists():
        raise StateError(
            f"no state for URN {urn} in {state_dir} ({path} does not exist): run `bromsync plan` "
            "or `bromsync run` for the school first, or pass --state-dir"
        )
    state = State(path, read_only=True)
    try:
        if schema_version(state.con) < SCHEMA_VERSION:
            # A file from an older bromsync lacks the stable views until its next plan/run;
            # temporary ones give the analyst the documented interface without writing.
            create_views(state.con, temporary=True)
        return run_query(
            state.con,
            query,
            f"bromsync sql opens the state file {path} read-only, so a query cannot change it",
        )
    finally:
        state.close()


def run_query(
    con: duckdb.DuckDBPyConnection, query: str, read_only: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """An analyst's query: its column names and rows, or a StateError a person can read.

    `read_only` says how the state was opened and that it cannot change, for a query that writes.
    """
    if not query.strip():
        raise StateError('the query is empty: give one SELECT, e.g. "SELECT * FROM current_run"')
    try:
        cursor = con.execute(query)
        if cursor.description is None:
            raise StateError(
                "the query returned no table: give one SELECT (a statement that reads)"
            )
        columns = [d[0] for d in cursor.description or []]
        return columns, cursor.fetchall()
    except duckdb.Error as exc:
        if "read-only" in str(exc):
            raise StateError(f"{read_only}: {exc}") from exc
        raise StateError(f"the query failed: {exc}") from exc
