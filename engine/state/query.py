"""Analysts' queries (`bromsync sql` and `sql-all`): one school's state, or all schools at once,
and their answers as JSON or CSV for programs (docs/analysts.md, "Output formats").

Every state file is opened read-only, so a query can never change what a sync relies on.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import math
import re
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import StateError
from engine.state.store import State, state_path
from engine.state.views import (
    SCHEMA_VERSION,
    TABLES,
    VIEWS,
    create_views,
    schema_version,
    view_sql,
)

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


# answers for programs: JSON and CSV -------------------------------------------------------------

FORMATS = ("table", "json", "csv")


def _duration(value: dt.timedelta) -> str:
    """An ISO 8601 duration: "P3D", "PT90S", "P1DT0.5S"; a negative one with a leading "-"."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    seconds = f"{value.seconds + value.microseconds / 1_000_000:.6f}".rstrip("0").rstrip(".")
    parts = f"{value.days}D" if value.days else ""
    if seconds != "0" or not parts:
        parts += f"T{seconds}S"
    return f"{sign}P{parts}"


def plain_value(value: Any) -> Any:
    """A DuckDB value as JSON holds it: dates and times in ISO 8601 (`2026-11-28`,
    `2026-11-28T06:30:00`), intervals as ISO durations, decimals as numbers, UUIDs as text,
    bytes as base64, lists and structs nested, NaN and infinities as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return plain_value(int(value) if value == value.to_integral_value() else float(value))
    if isinstance(value, dt.date | dt.time):  # dt.datetime is a dt.date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(plain_value(k)): plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    return str(value)


def as_json(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The answer as a JSON list of objects, one per row, keyed by column name in order."""
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise StateError(
                f"two columns of the answer are both named {name!r}, so a JSON object cannot "
                f"hold both: give them different names with AS (e.g. ... AS {name}_2), or use "
                "--format csv or table"
            )
        seen.add(name)
    records = [
        {name: plain_value(value) for name, value in zip(columns, row, strict=True)} for row in rows
    ]
    return json.dumps(records, ensure_ascii=False, indent=2, allow_nan=False)


def _csv_cell(value: Any) -> str:
    plain = plain_value(value)
    if plain is None:
        return ""
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, dict | list):
        return json.dumps(plain, ensure_ascii=False)
    return str(plain)


def as_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The answer as CSV (RFC 4180, `\\r\\n` line ends): a header of column names, then one
    line per row; null is an empty cell, lists and structs are JSON text, values as in JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    return out.getvalue()
