"""Stage: each school's DuckDB state file, the memory of every run.

One file per school, `<state_dir>/<urn>.duckdb`, holding:
- `runs`: one row per plan/apply/run, with its outcome;
- `raw_<entity>`: the rows of each entity as last fetched, typed from Bromcom's schema;
- `records`: the mapped ParentPay records of every run (held ones flagged);
- `check_results`: what the checks of every run flagged (append-only history);
- `uploaded`: the last acknowledged state of each record in ParentPay (the diff's baseline);
- `uploads` and `upload_results`: every acknowledged batch and each operation's answer;
- `guard_releases`: each guard a person lifted with --allow-mass-archive or --allow-mass-blank;
- `bromsync_meta` and the stable views analysts query (engine/state/views.py).
All loads are bulk (whole columns passed as list parameters and inserted with one statement);
nothing is inserted row by row. `docs/state.md` documents the tables and views for analysts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import duckdb

from engine.errors import BromsyncError, StateError
from engine.files import PRIVATE_DIR, PRIVATE_FILE, private_dir, tighten
from engine.records import Record
from engine.secrets import scrub_known
from engine.sources import Table
from engine.state.db import transaction
from engine.state.views import ensure_schema

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR, urn INTEGER, school VARCHAR, command VARCHAR, today DATE,
    started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, baseline VARCHAR,
    plan_digest VARCHAR, summary JSON, message VARCHAR);
CREATE TABLE IF NOT EXISTS fetches (
    run_id VARCHAR, entity VARCHAR, row_count INTEGER, seconds DOUBLE, column_types JSON,
    digest VARCHAR);
CREATE TABLE IF NOT EXISTS records (
    run_id VARCHAR, type VARCHAR, mis_id VARCHAR, fields JSON, held BOOLEAN);
CREATE TABLE IF NOT EXISTS check_results (
    run_id VARCHAR, name VARCHAR, severity VARCHAR, type VARCHAR, mis_id VARCHAR,
    message VARCHAR, remediation VARCHAR, flagged INTEGER);
CREATE TABLE IF NOT EXISTS uploaded (
    mis_id VARCHAR, type VARCHAR, status VARCHAR, fields JSON, upload_id VARCHAR,
    acknowledged_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS uploads (
    seq INTEGER, upload_id VARCHAR, run_id VARCHAR, plan_digest VARCHAR, batch INTEGER,
    idempotency_key VARCHAR, acknowledged_at TIMESTAMP, applied INTEGER, rejected INTEGER);
CREATE TABLE IF NOT EXISTS match_holds (
    mis_id VARCHAR, type VARCHAR, reason VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS upload_results (
    upload_id VARCHAR, idx INTEGER, op VARCHAR, type VARCHAR, mis_id VARCHAR,
    status VARCHAR, code VARCHAR, message VARCHAR, operation JSON);
CREATE TABLE IF NOT EXISTS guard_releases (
    run_id VARCHAR, plan_digest VARCHAR, urn INTEGER, guard VARCHAR, type VARCHAR,
    field VARCHAR, count INTEGER, active INTEGER, released_at TIMESTAMP, released_by VARCHAR,
    command VARCHAR);
"""

# The DuckDB type a raw column is stored as, by the xs: type Bromcom declares (else VARCHAR).
_RAW_TYPES = {
    "int": "BIGINT",
    "long": "BIGINT",
    "short": "BIGINT",
    "boolean": "BOOLEAN",
    "dateTime": "TIMESTAMP",
    "date": "DATE",
    "decimal": "DOUBLE",
    "double": "DOUBLE",
    "float": "DOUBLE",
}

# Whole columns to load: name -> (DuckDB type, the column's values), every column as long.
Columns = dict[str, tuple[str, list[Any]]]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def columns_select(columns: Columns) -> tuple[str, list[list[Any]]]:
    """A SELECT of `columns` passed as list parameters, one row per value: DuckDB zips the
    unnests of one SELECT list, and an empty list gives no rows but the column's type."""
    parts = ", ".join(f"unnest(?::{kind}[]) AS {_quoted(n)}" for n, (kind, _) in columns.items())
    return f"SELECT {parts}", [values for _, values in columns.values()]


# Runs whose staged rows are kept (docs/personal-data.md, rule 4; State.prune_staged).
KEEP_STAGED_RUNS = 30


def _raw_table(entity: str) -> str:
    """The `raw_<entity>` table an entity's fetch is staged in."""
    return "raw_" + "".join(ch for ch in entity.lower() if ch.isalnum() or ch == "_")


def state_path(state_dir: Path, urn: int) -> Path:
    return state_dir / f"{urn}.duckdb"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _open_failure(path: Path, exc: Exception) -> str:
    """Why a state file could not be opened, without DuckDB's advice for its own CLI."""
    text = str(exc)
    holder = re.search(r"\(PID (\d+)\)", text)
    if "lock" in text.lower():
        who = f" (process {holder.group(1)})" if holder else ""
        return (
            f"cannot open the state file {path}: another program{who} has it open. If it is "
            "another bromsync for this school, or an analyst's query (bromsync sql, the duckdb "
            "CLI), wait for it to finish and run again."
        )
    return f"cannot open the state file {path}: {text.splitlines()[0]}"


def new_run_id() -> str:
    """A run id that sorts by time: 20261128T105700Z-ab12cd."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


@dataclass
class RunLog:
    """What a run reports about itself when it ends (see State.run)."""

    run_id: str
    status: str = "ok"  # ok, incomplete or failed
    baseline: str | None = None
    plan_digest: str | None = None
    summary: Any = None
    message: str | None = None


@dataclass(frozen=True)
class PlanUploads:
    """What ParentPay acknowledged of one plan's push (see State.plan_uploads)."""

    batches: frozenset[int]  # the plan's batch numbers acknowledged
    operations: int  # the operations answered in them
    first_at: str  # when the first of them was acknowledged, "YYYY-MM-DD HH:MM"
    before: str | None  # the upload acknowledged just before the first of them
    latest: bool  # the last uploads acknowledged are the plan's, none of another since


class State:
    """The DuckDB state of one school, opened for writing."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        on_disk = not read_only and str(path) != ":memory:"
        try:
            if on_disk:
                # Children's data: the folder and the file are the owner's alone, whatever the
                # umask they were made under (docs/personal-data.md). The folder also hides the
                # write-ahead log DuckDB makes beside the file while a run writes.
                tighten(private_dir(path.parent), PRIVATE_DIR)
            self.con = duckdb.connect(str(path), read_only=read_only)
        except (duckdb.Error, OSError) as exc:
            raise StateError(_open_failure(path, exc)) from exc
        if read_only:
            return
        try:
            for made in (path, path.with_name(path.name + ".wal")) if on_disk else ():
                tighten(made, PRIVATE_FILE)
        except OSError as exc:
            self.con.close()
            raise StateError(_open_failure(path, exc)) from exc
        try:
            self.con.execute(_SCHEMA)
            ensure_schema(self.con, path)
        except duckdb.Error as exc:
            self.con.close()
            raise StateError(f"cannot prepare the state file {path}: {exc}") from exc
        except BaseException:
            self.con.close()
            raise

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _insert(self, table: str, columns: Columns, select: str = "*") -> None:
        rows, values = columns_select(columns)
        self.con.execute(f"INSERT INTO {table} SELECT {select} FROM ({rows})", values)

    # runs -------------------------------------------------------------------------------------

    @contextmanager
    def run(self, *, urn: int, school: str, command: str, today: dt.date) -> Iterator[RunLog]:
        """Record one run in `runs`: started now, finished however the block ends.

        The block fills in the returned RunLog (status, baseline, message...); an expected
        error is recorded as `failed` and anything else as `crashed`, and both propagate.
        """
        log = RunLog(new_run_id())
        self.start_run(log.run_id, urn=urn, school=school, command=command, today=today)
        try:
            yield log
        except BromsyncError as exc:
            # Scrubbed again of every secret read (engine.secrets), in case one slipped in.
            self.finish_run(log.run_id, status="failed", message=scrub_known(str(exc)))
            self._prune_quietly()
            raise
        except BaseException as exc:
            # Nobody wrote this message for people: it may hold anything, a secret included.
            self.finish_run(log.run_id, status="crashed", message=scrub_known(repr(exc)))
            self._prune_quietly()
            raise
        self.finish_run(
            log.run_id,
            status=log.status,
            baseline=log.baseline,
            plan_digest=log.plan_digest,
            summary=log.summary,
            message=log.message,
        )
        try:
            self.prune_staged()
        except duckdb.Error as exc:
            raise StateError(
                f"the run finished, but its state file {self.path} could not drop the rows of "
                f"runs older than the last {KEEP_STAGED_RUNS}: {exc}. Nothing was lost; the "
                "next run tries again. If it keeps failing, check the disk has room."
            ) from exc

    def _prune_quietly(self) -> None:
        # After a failed run, the failure is the news: a retention problem is retried next run.
        with suppress(duckdb.Error):
            self.prune_staged()

    def start_run(
        self, run_id: str, *, urn: int, school: str, command: str, today: dt.date
    ) -> None:
        """Record a run as `running`; a run still `running` was killed, so it is `interrupted`.

        Only one program writes a state file at a time (DuckDB locks it), and a run finishes
        before the next starts, so a row left `running` is a run that never finished.
        """
        self.con.execute(
            "UPDATE runs SET status = 'interrupted', message = 'interrupted: it stopped before "
            "it finished (killed, or the machine went down); found when run ' || ? || ' started'"
            " WHERE status = 'running'",
            [run_id],
        )
        self.con.execute(
            "INSERT INTO runs (run_id, urn, school, command, today, started_at, status) "
            "VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP, 'running')",
            [run_id, urn, school, command, today],
        )

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        baseline: str | None = None,
        plan_digest: str | None = None,
        summary: Any = None,
        message: str | None = None,
    ) -> None:
        self.con.execute(
            "UPDATE runs SET finished_at = now()::TIMESTAMP, status = ?, baseline = ?, "
            "plan_digest = ?, summary = ?::JSON, message = ? WHERE run_id = ?",
            [
                status,
                baseline,
                plan_digest,
                None if summary is None else _json(summary),
                message,
                run_id,
            ],
        )

    # retention --------------------------------------------------------------------------------

    def prune_staged(self, keep: int = KEEP_STAGED_RUNS) -> int:
        """Drop the staged rows of all but the `keep` latest runs that staged any; how many runs.

        docs/personal-data.md, rule 4: the state must not grow without bound. A run's staged
        rows are its `records`, its `fetches` and its check results per record; the runs that
        staged them are those with any (`apply` and `match` stage none, so they never push a
        plan's records out). An older run keeps its `runs` row (status and summary), its
        uploads and ParentPay's answers, and its check results folded into one row per check
        (`mis_id` NULL, `flagged` the records it flagged). A `raw_<entity>` table holds one
        fetch; one that no kept run fetched (the school stopped reading the entity) is dropped.
        Bulk statements in one transaction, then a CHECKPOINT: DuckDB reuses the freed blocks
        only once a checkpoint has written the deletes (a DELETE alone never shrinks the file).
        """
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _old_runs AS SELECT run_id FROM ("
            "  SELECT run_id, row_number() OVER (ORDER BY started_at DESC, run_id DESC) AS n"
            "  FROM runs r WHERE EXISTS (SELECT 1 FROM fetches f WHERE f.run_id = r.run_id)"
            "  OR EXISTS (SELECT 1 FROM records x WHERE x.run_id = r.run_id)"
            ") WHERE n > ?",
            [keep],
        )
        try:
            old = self.con.execute("SELECT count(*) FROM _old_runs").fetchone()
            count = int(old[0]) if old else 0
            kept = {
                _raw_table(str(e))
                for (e,) in self.con.execute(
                    "SELECT DISTINCT entity FROM fetches WHERE run_id NOT IN (FROM _old_runs)"
                ).fetchall()
            }
            stale = [
                str(t)
                for (t,) in self.con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = "
                    "current_database() AND schema_name = 'main' AND table_name LIKE 'raw\\_%' "
                    "ESCAPE '\\'"
                ).fetchall()
                if t not in kept
            ]
            if not count and not stale:
                return 0
            with transaction(self.con):
                self.con.execute(
                    "INSERT INTO check_results BY NAME "
                    "SELECT run_id, name, severity, type, NULL AS mis_id, message, remediation, "
                    "sum(coalesce(flagged, 1))::INTEGER AS flagged FROM check_results "
                    "WHERE mis_id IS NOT NULL AND run_id IN (FROM _old_runs) "
                    "GROUP BY ALL"
                )
                for statement in (
                    "DELETE FROM check_results WHERE mis_id IS NOT NULL "
                    "AND run_id IN (FROM _old_runs)",
                    "DELETE FROM records WHERE run_id IN (FROM _old_runs)",
                    "DELETE FROM fetches WHERE run_id IN (FROM _old_runs)",
                    *(f'DROP TABLE "{table}"' for table in stale),
                ):
                    self.con.execute(statement)
            self.con.execute("CHECKPOINT")
            return count
        finally:
            self.con.execute("DROP TABLE IF EXISTS _old_runs")

    # raw rows ---------------------------------------------------------------------------------

    def save_raw(
        self, run_id: str, table: Table, seconds: float, keep: Collection[str] | None = None
    ) -> None:
        """Replace `raw_<entity>` with this fetch, typed from Bromcom's schema.

        Only the columns in `keep` are stored (docs/personal-data.md: the state keeps only the
        columns the mappings read), in Bromcom's order; None keeps them all. `fetches` records
        the type Bromcom declared for every column, kept or not, for the next run to compare.
        An answer byte-identical to the entity's last one, kept the same way, is not written
        again: its rows only take this run's `run_id`.
        """
        name = _quoted(_raw_table(table.entity))
        kept = {n: k for n, k in table.columns.items() if keep is None or n in keep}
        digest = None
        if table.digest is not None:
            digest = hashlib.sha256(f"{table.digest} {_json(kept)}".encode()).hexdigest()
        with transaction(self.con):  # the rows and the fetch naming them, together
            if digest is not None and self._last_digest(table.entity) == digest:
                self.con.execute(f"UPDATE {name} SET run_id = ?", [run_id])
            else:
                columns: Columns = {"run_id": ("VARCHAR", [run_id] * len(table.rows))}
                for column, kind in kept.items():
                    sql_type = _RAW_TYPES.get(kind, "VARCHAR")
                    values = [row.get(column) for row in table.rows]
                    if sql_type == "VARCHAR":
                        values = [None if v is None else str(v) for v in values]
                    columns[column] = (sql_type, values)
                rows, params = columns_select(columns)
                self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {rows}", params)
            self._insert(
                "fetches",
                {
                    "run_id": ("VARCHAR", [run_id]),
                    "entity": ("VARCHAR", [table.entity]),
                    "row_count": ("INTEGER", [len(table.rows)]),
                    "seconds": ("DOUBLE", [seconds]),
                    "column_types": ("VARCHAR", [_json(table.columns)]),
                    "digest": ("VARCHAR", [digest]),
                },
                "run_id, entity, row_count, seconds, column_types::JSON, digest",
            )

    def _last_digest(self, entity: str) -> str | None:
        """The digest of the entity's last recorded fetch, if its raw table still holds it."""
        row = self.con.execute(
            "SELECT f.digest FROM fetches f LEFT JOIN runs r USING (run_id) "
            "WHERE f.entity = ? AND EXISTS (SELECT 1 FROM duckdb_tables() "
            "WHERE schema_name = 'main' AND database_name = current_database() "
            "AND table_name = ?) "
            "ORDER BY r.started_at DESC NULLS LAST, f.run_id DESC LIMIT 1",
            [entity, _raw_table(entity)],
        ).fetchone()
        return None if row is None else row[0]

    def last_column_types(self, entity: str) -> dict[str, str] | None:
        """The column types Bromcom declared for `entity` (any case) at its latest recorded fetch.

        None when no fetch of it recorded its types (a first run, or a state file written
        before bromsync recorded them).
        """
        rows = self.con.execute(
            "SELECT f.column_types FROM fetches f LEFT JOIN runs r USING (run_id) "
            "WHERE lower(f.entity) = lower(?) AND f.column_types IS NOT NULL "
            "ORDER BY r.started_at DESC NULLS LAST, f.run_id DESC LIMIT 1",
            [entity],
        ).fetchall()
        return dict(json.loads(rows[0][0])) if rows else None

    # mapped records and checks ----------------------------------------------------------------

    def save_records(self, run_id: str, records: Sequence[Record]) -> None:
        """The mapped records of a run; mark_held flags those checks then hold back."""
        columns: Columns = {
            "run_id": ("VARCHAR", [run_id] * len(records)),
            "type": ("VARCHAR", [r["type"] for r in records]),
            "mis_id": ("VARCHAR", [r["mis_id"] for r in records]),
            "fields": ("VARCHAR", [_json(r["fields"]) for r in records]),
            "held": ("BOOLEAN", [False] * len(records)),
        }
        self._insert("records", columns, "run_id, type, mis_id, fields::JSON, held")

    def mark_held(self, run_id: str, mis_ids: Iterable[str]) -> None:
        """Flag the records of `run_id` that checks held back."""
        self.con.execute(
            "UPDATE records SET held = true "
            "WHERE run_id = ? AND mis_id IN (SELECT unnest(?::VARCHAR[]))",
            [run_id, sorted(mis_ids)],
        )

    def save_checks(self, run_id: str, hits: Sequence[Any]) -> None:
        # A check about the whole school (nobody consented) flags no record: keep it as one
        # row with no mis_id, or the history would forget it ever fired.
        # `flagged` counts the records a row stands for: 1 here, 0 for a school-wide check,
        # and n once retention folds an old run's rows into one per check (prune_staged).
        rows = [(hit, mis_id) for hit in hits for mis_id in (hit.records or [None])]
        text = "VARCHAR"
        columns: Columns = {
            "run_id": (text, [run_id] * len(rows)),
            "name": (text, [h.name for h, _ in rows]),
            "severity": (text, [h.severity for h, _ in rows]),
            "type": (text, [h.type for h, _ in rows]),
            "mis_id": (text, [m for _, m in rows]),
            "message": (text, [h.message for h, _ in rows]),
            "remediation": (text, [h.remediation for h, _ in rows]),
            "flagged": ("INTEGER", [0 if m is None else 1 for _, m in rows]),
        }
        self._insert(
            "check_results",
            columns,
            "run_id, name, severity, type, mis_id, message, remediation, flagged",
        )

    # the baseline: what ParentPay acknowledged ------------------------------------------------

    def baseline_id(self) -> str | None:
        row = self.con.execute("SELECT upload_id FROM uploads ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def plan_uploads(self, plan_digest: str) -> PlanUploads | None:
        """The batches ParentPay acknowledged of the plan with this digest; None if none was."""
        row = self.con.execute(
            "SELECT list(batch), min(seq), max(seq), count(*), "
            "strftime(min(acknowledged_at), '%Y-%m-%d %H:%M'), "
            "(SELECT count(*) FROM upload_results r WHERE r.upload_id IN "
            "  (SELECT upload_id FROM uploads WHERE plan_digest = ?)), "
            "(SELECT max(seq) FROM uploads) "
            "FROM uploads WHERE plan_digest = ?",
            [plan_digest, plan_digest],
        ).fetchone()
        if row is None or not row[3]:
            return None
        batches, first, last, count, first_at, operations, newest = row
        before = self.con.execute("SELECT upload_id FROM uploads WHERE seq = ?", [first - 1])
        found = before.fetchone()
        return PlanUploads(
            batches=frozenset(batches),
            operations=int(operations),
            first_at=str(first_at),
            before=None if found is None else str(found[0]),
            latest=last == newest and count == last - first + 1,
        )

    def uploaded(self) -> dict[str, Record]:
        """The last acknowledged state of every record: mis_id -> {mis_id, type, status, fields}."""
        rows = self.con.execute("SELECT mis_id, type, status, fields FROM uploaded").fetchall()
        return {
            m: {"mis_id": m, "type": t, "status": s, "fields": json.loads(f)} for m, t, s, f in rows
        }

    def run_records(self, run_id: str) -> dict[str, Record]:
        """The records a run mapped (held ones included): mis_id -> {mis_id, type, fields}.

        Empty once the run is older than the staged rows the state keeps.
        """
        rows = self.con.execute(
            "SELECT mis_id, type, fields FROM records WHERE run_id = ?", [run_id]
        ).fetchall()
        return {m: {"mis_id": m, "type": t, "fields": json.loads(f)} for m, t, f in rows}

    def rejections(self) -> dict[str, dict[str, Any]]:
        """The operation ParentPay rejected last for each record whose latest answer was a rejection.

        mis_id -> {"operation": the op as sent, "code", "message"}: the same operation would be
        refused again, so the planner does not send it until the data changes.
        """
        rows = self.con.execute(
            "SELECT mis_id, operation, code, message FROM ("
            "  SELECT r.*, row_number() OVER (PARTITION BY r.mis_id ORDER BY u.seq DESC, r.idx DESC) AS n"
            "  FROM upload_results r JOIN uploads u USING (upload_id)"
            ") WHERE n = 1 AND status = 'rejected' AND operation IS NOT NULL"
        ).fetchall()
        return {m: {"operation": json.loads(o), "code": c, "message": t} for m, o, c, t in rows}

    def set_match_holds(self, run_id: str, holds: Sequence[tuple[str, str, str]]) -> None:
        """Replace the records `bromsync match` says must wait: (mis_id, type, reason) each."""
        with transaction(self.con):
            self.con.execute("DELETE FROM match_holds")
            if holds:
                self._insert(
                    "match_holds",
                    {
                        "mis_id": ("VARCHAR", [h[0] for h in holds]),
                        "type": ("VARCHAR", [h[1] for h in holds]),
                        "reason": ("VARCHAR", [h[2] for h in holds]),
                        "run_id": ("VARCHAR", [run_id] * len(holds)),
                    },
                )

    def match_holds(self) -> dict[str, str]:
        """mis_id -> why the last `bromsync match` says the record must wait for a decision."""
        rows = self.con.execute("SELECT mis_id, reason FROM match_holds").fetchall()
        return {m: r for m, r in rows}

    def acknowledge(
        self,
        *,
        run_id: str,
        plan_digest: str,
        batch: int,
        key: str,
        upload_id: str,
        results: Sequence[dict[str, Any]],
        new_states: Sequence[Record],
    ) -> None:
        """Record one acknowledged batch and the new state of each record it applied, atomically."""
        with transaction(self.con):
            seq = self.con.execute("SELECT coalesce(max(seq), 0) + 1 FROM uploads").fetchone()[0]  # type: ignore[index]
            applied = sum(1 for r in results if r["status"] == "applied")
            self.con.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?)",
                [seq, upload_id, run_id, plan_digest, batch, key, applied, len(results) - applied],
            )
            self._insert(
                "upload_results",
                {
                    "upload_id": ("VARCHAR", [upload_id] * len(results)),
                    "idx": ("INTEGER", [r["index"] for r in results]),
                    "op": ("VARCHAR", [r.get("op") for r in results]),
                    "type": ("VARCHAR", [r.get("type") for r in results]),
                    "mis_id": ("VARCHAR", [r["mis_id"] for r in results]),
                    "status": ("VARCHAR", [r["status"] for r in results]),
                    "code": ("VARCHAR", [r.get("code") for r in results]),
                    "message": ("VARCHAR", [r.get("message") for r in results]),
                    "operation": ("VARCHAR", [_json(r.get("operation")) for r in results]),
                },
                "upload_id, idx, op, type, mis_id, status, code, message, operation::JSON",
            )
            if new_states:
                self._replace_uploaded(new_states, upload_id)

    def _replace_uploaded(self, records: Sequence[Record], upload_id: str) -> None:
        """The acknowledged state of `records` (each with a status) becomes theirs now."""
        ids = [r["mis_id"] for r in records]
        self.con.execute(
            "DELETE FROM uploaded WHERE mis_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
        )
        self._insert(
            "uploaded",
            {
                "mis_id": ("VARCHAR", ids),
                "type": ("VARCHAR", [r["type"] for r in records]),
                "status": ("VARCHAR", [r["status"] for r in records]),
                "fields": ("VARCHAR", [_json(r["fields"]) for r in records]),
                "upload_id": ("VARCHAR", [upload_id] * len(records)),
            },
            "mis_id, type, status, fields::JSON, upload_id, now()::TIMESTAMP",
        )

    def record_guard_releases(
        self,
        *,
        run_id: str,
        plan_digest: str,
        urn: int,
        guards: Sequence[dict[str, Any]],
        released_by: str,
        command: str,
    ) -> None:
        """Record who lifted which guards of which plan, and with what command (docs/state.md).

        `guards` are the plan's guard entries lifted (guard, type, field, count, active).
        """
        if not guards:
            return
        n = len(guards)
        rows: Columns = {
            "run_id": ("VARCHAR", [run_id] * n),
            "plan_digest": ("VARCHAR", [plan_digest] * n),
            "urn": ("INTEGER", [urn] * n),
            "guard": ("VARCHAR", [g["guard"] for g in guards]),
            "type": ("VARCHAR", [g["type"] for g in guards]),
            "field": ("VARCHAR", [g.get("field") for g in guards]),
            "count": ("INTEGER", [g["count"] for g in guards]),
            "active": ("INTEGER", [g.get("active") for g in guards]),
            "released_by": ("VARCHAR", [released_by] * n),
            "command": ("VARCHAR", [command] * n),
        }
        # The transaction keeps one release's rows together.
        with transaction(self.con):
            self._insert(
                "guard_releases",
                rows,
                "run_id, plan_digest, urn, guard, type, field, count, active, now()::TIMESTAMP, "
                "released_by, command",
            )

    def adopt(self, run_id: str, records: Sequence[Record]) -> None:
        """Take records ParentPay already holds into bromsync's memory, as ParentPay holds them.

        They are the same people as Bromcom's records under those IDs (a create whose answer
        was lost, an older bromsync's records stuck by `exists`, or a record made by hand), so
        from now on they are managed: updated, archived and checked for drift like any other.
        """
        if not records:
            return
        with transaction(self.con):
            self._replace_uploaded(records, f"adopted-{run_id}")
