"""The run's context: what a check's SQL may read (the contract in docs/checks.md).

Before checks run, `install` creates TEMP tables, a view and macros on the state's connection,
scoped to one run (`pupils`, `staff`, `preadmissions`, `people`, `school_settings`...), so a
check's query never sees the state's history. The record tables are loaded straight from the
run's records, in one statement per type, with the columns and types the state's staged_<type>
views give the same records. `bromsync validate` binds check packs against the same names
(engine/checks/packs.py); engine/checks/run.py runs them against them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from engine import clock
from engine.records import DATE_FIELDS, PARENTPAY_YEAR_CODES, RECORD_TYPES, Record
from engine.state.store import Columns, columns_select
from engine.state.views import staged_field

_TEMP_TABLES = (
    *(t.option for t in RECORD_TYPES.values()),
    "people",
    "school_settings",
    "parentpay_year_codes",
)
# England's cohort rule (docs/rules.md): a school year runs 1 September to 31 August, and a
# Reception child is 4 on the 31 August before it began; Year N is 4 + N, N2 is 3 and N1 is 2.
_MACROS = {
    "cohort_date": "(d) AS make_date(year(d) - CASE WHEN month(d) >= 9 THEN 0 ELSE 1 END, 8, 31)",
    "age_on": (
        "(dob, d) AS date_diff('year', dob, d) "
        "- CASE WHEN (month(d), day(d)) < (month(dob), day(dob)) THEN 1 ELSE 0 END"
    ),
    "year_code_for_age": (
        "(age) AS CASE WHEN age = 2 THEN 'N1' WHEN age = 3 THEN 'N2' WHEN age = 4 THEN 'R' "
        "WHEN age BETWEEN 5 AND 18 THEN CAST(age - 4 AS VARCHAR) END"
    ),
}


def _date(name: str) -> str:
    # ParentPay's form, YYYY-MM-DD, and a real day, or null: DuckDB alone would also read
    # "2015/02/01". `<name>_text` keeps the value as mapped, for a check to name a bad one.
    return (
        f"CASE WHEN regexp_full_match({name}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
        f"THEN TRY_CAST({name} AS DATE) END AS {name}, {name} AS {name}_text"
    )


def _column(name: str) -> str:
    """A record field as checks read it, from its text: typed as the state's staged_<type>
    views type it, and dates as a DATE beside their text."""
    if name in DATE_FIELDS:
        return _date(name)
    return staged_field(name, name, f"{name}::JSON")


def _text(value: Any) -> str | None:
    """A field's value as text, as `fields->>'name'` reads it from the record's stored JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def install(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    records: Sequence[Record],
    settings: Mapping[str, Any],
) -> None:
    """Create the TEMP tables, view and macros checks read, holding `records` of `run_id`."""
    for name, body in _MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")
    for kind in RECORD_TYPES.values():
        mine = [r for r in records if r["type"] == kind.name]
        columns: Columns = {
            "run_id": ("VARCHAR", [run_id] * len(mine)),
            "mis_id": ("VARCHAR", [r["mis_id"] for r in mine]),
            "held": ("BOOLEAN", [False] * len(mine)),
        }
        for name in kind.fields:
            columns[name] = ("VARCHAR", [_text(r["fields"].get(name)) for r in mine])
        rows, values = columns_select(columns)
        selected = ", ".join(_column(n) for n in kind.fields)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {kind.option} AS SELECT run_id, mis_id, held, "
            f"{selected} FROM ({rows})",
            values,
        )
    # One table across types, with the payer's contacts under the names staff use, so checks
    # of identity, email and mobile are written once.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE people AS "
        "SELECT 'pupil' AS type, mis_id, held, upn, forename, surname, dob, dob_text, "
        "year_code, payer_email AS email, payer_mobile AS mobile FROM pupils UNION ALL "
        "SELECT 'preadmission', mis_id, held, upn, forename, surname, dob, dob_text, year_code, "
        "payer_email, payer_mobile FROM preadmissions UNION ALL "
        "SELECT 'staff', mis_id, held, NULL, forename, surname, NULL::DATE, NULL, NULL, email, "
        "mobile FROM staff"
    )
    today = settings.get("today") or clock.today()
    if isinstance(today, str):
        today = dt.date.fromisoformat(today)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE school_settings AS SELECT ?::VARCHAR AS lawful_basis, "
        "?::VARCHAR[] AS ufsm_year_codes, ?::VARCHAR AS staff_id_prefix, "
        "?::VARCHAR[] AS include_enrolment_statuses, ?::VARCHAR[] AS dietary_allow, "
        "?::DATE AS today, cohort_date(?::DATE) AS cohort_date",
        [
            settings.get("lawful_basis", "legitimate_interest"),
            list(settings.get("ufsm_year_codes", ())),
            settings.get("staff_id_prefix", ""),
            list(settings.get("include_enrolment_statuses", ("C", "M"))),
            list(settings.get("dietary_allow", ())),
            today,
            today,
        ],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE parentpay_year_codes AS SELECT unnest(?::VARCHAR[]) AS code",
        [list(PARENTPAY_YEAR_CODES)],
    )
    con.execute("CREATE OR REPLACE TEMP VIEW baseline AS SELECT * FROM main.uploaded")


def uninstall(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the run's context, so analysts on this connection see only the state's own tables."""
    con.execute("DROP VIEW IF EXISTS temp.baseline")
    for kind, name in [*(("TABLE", t) for t in _TEMP_TABLES), *(("MACRO", m) for m in _MACROS)]:
        con.execute(f"DROP {kind} IF EXISTS temp.{name}")


def wrapped(sql: str) -> str:
    """A check's query as a subquery, `offending`, to select from."""
    # The newlines keep DuckDB's "LINE n" one below the check's own line n, and let a check end
    # in a `--` comment.
    return f"SELECT * FROM (\n{sql}\n) AS offending"


def query_columns(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The names of the columns a check's query returns, bound with no rows read."""
    return [d[0] for d in con.execute(wrapped(sql) + " LIMIT 0").description or []]
