"""The analysts' interface to the state: stable views in every state file, and all schools at once.

The views are a public interface (dashboards and notebooks are built on them), so their names
and columns only change with a new `SCHEMA_VERSION`, recorded in each file's `bromsync_meta`
table. `docs/state.md` documents every column; tests/engine/state/test_views.py holds the two to
each other.

Each view body is written with a `{db}` catalog prefix: empty inside a state file, `s_<urn>.`
when `engine.state.query.query_all` builds the cross-school `all_<name>` views. Building the union from this
module's own SQL (not from each file's stored views) means every school answers with the same
columns, even a file written before the views existed.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import duckdb

from engine.errors import StateError
from engine.records import DATE_FIELDS, RECORD_FIELDS, RECORD_TYPES
from engine.state.db import transaction

SCHEMA_VERSION = 4

# The base tables, created by engine/state/store.py; query_all unions each of them across schools.
TABLES = ("runs", "fetches", "records", "check_results", "uploaded", "uploads", "upload_results")

# Statements that bring a file from version N-1 to N, run in order before the views are
# (re)built. Version 1 added bromsync_meta and the stable views, which are rebuilt whenever
# their SQL changes anyway, so it changes no table. Version 3 added check_results.flagged (the
# records a row stands for, so that an old run's check results folded into one row per check
# still count them) and check_history's column of it. Version 4 added fetches.digest (a raw
# table is not rewritten when Bromcom's answer is byte-identical to the last one) and
# bromsync_meta.views_digest (the views are rebuilt only when their SQL changes).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # The xs: type Bromcom declared for each column of each fetch: a key column whose type
    # changes since the last run stops the run (engine/pipeline.py).
    2: ("ALTER TABLE fetches ADD COLUMN IF NOT EXISTS column_types JSON",),
    3: (
        "ALTER TABLE check_results ADD COLUMN IF NOT EXISTS flagged INTEGER",
        "UPDATE check_results SET flagged = CASE WHEN mis_id IS NULL THEN 0 ELSE 1 END "
        "WHERE flagged IS NULL",
    ),
    4: (
        "ALTER TABLE fetches ADD COLUMN IF NOT EXISTS digest VARCHAR",
        "ALTER TABLE bromsync_meta ADD COLUMN IF NOT EXISTS views_digest VARCHAR",
    ),
}

_META = "CREATE TABLE IF NOT EXISTS bromsync_meta (schema_version INTEGER NOT NULL, updated_at TIMESTAMP)"
# The views' SQL as this bromsync writes it: a file whose bromsync_meta records the same has them.
_VIEWS_DIGEST_OF = "SELECT max(views_digest) FROM bromsync_meta WHERE schema_version = ?"

# Every field of every type, in first-seen order: the columns of acknowledged_people.
_ALL_FIELDS = tuple(dict.fromkeys(name for names in RECORD_FIELDS.values() for name in names))


def staged_field(name: str, text: str, as_json: str) -> str:
    """A record field as staged_<type> types it, from SQL giving its value as text (`text`,
    as `fields->>'x'` does) and as JSON (`as_json`, as `fields->'x'`). Dates stay ISO text: the
    checks' SQL compares them so, and their context (engine/checks/context.py) reads them so."""
    if name == "fsm":
        return f"({text})::BOOLEAN AS fsm"
    if name == "dietary":
        return f"CAST({as_json} AS VARCHAR[]) AS dietary"
    return f"{text} AS {name}"


def _staged_field(name: str) -> str:
    return staged_field(name, f"fields->>'{name}'", f"fields->'{name}'")


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
    # A file of schema 1 (read with temporary views, or across schools) has no `flagged`: the
    # BY NAME union gives it the column as NULL, and each of its rows stands for its mis_id.
    out["check_history"] = (
        "SELECT c.run_id, r.started_at AS run_started_at, r.command, r.status AS run_status, "
        "c.name, c.severity, c.type, c.mis_id, c.message, c.remediation, "
        "coalesce(c.flagged, CASE WHEN c.mis_id IS NULL THEN 0 ELSE 1 END) AS flagged "
        "FROM (FROM {db}check_results UNION ALL BY NAME SELECT NULL::INTEGER AS flagged WHERE false) c "
        "LEFT JOIN {db}runs r ON r.run_id = c.run_id "
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


@cache
def views_digest() -> str:
    """A digest of every stable view's SQL, as this bromsync creates them."""
    text = "\n".join(f"{name}: {view_sql(name)}" for name in VIEWS)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Bring a writable state file up to `SCHEMA_VERSION`: migrations, views, version, atomically.

    A file already at this version whose views are this bromsync's is left as it is: opening
    a school's state for a run writes nothing until the run does.
    """
    con.execute(_META)
    found = schema_version(con)
    if found > SCHEMA_VERSION:
        raise StateError(
            f"the state file {path} was written by a newer bromsync (state schema {found}; this "
            f"bromsync knows up to {SCHEMA_VERSION}). Upgrade bromsync on this machine before "
            "running it for this school; nothing was changed."
        )
    if found == SCHEMA_VERSION:
        row = con.execute(_VIEWS_DIGEST_OF, [SCHEMA_VERSION]).fetchone()
        if row is not None and row[0] == views_digest():
            return
    with transaction(con):
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS.get(version, ()):
                con.execute(statement)
        # Idempotent: keeps each file's views exactly the ones this bromsync documents.
        create_views(con)
        con.execute("DELETE FROM bromsync_meta")
        con.execute(
            "INSERT INTO bromsync_meta VALUES (?, now()::TIMESTAMP, ?)",
            [SCHEMA_VERSION, views_digest()],
        )
