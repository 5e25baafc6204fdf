"""Checks: running the SQL checks of the packs over one run's staged records.

The checks come from engine/checks/packs.py, already bound against the run's context
(engine/checks/context.py, documented in `docs/checks.md`); `run_checks` installs that context
for one run, runs each check that concerns the run's record types, and drops it again. Each
`CheckHit` names the records of one type that one check flagged; `held_ids` gives those an
error holds back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from engine.checks.context import install, query_columns, uninstall, wrapped
from engine.checks.packs import SqlCheck
from engine.errors import ConfigError
from engine.records import TYPES, Record, natural_key


@dataclass(frozen=True)
class CheckHit:
    """The records of one type that one check flagged."""

    name: str
    severity: str
    type: str
    records: list[str]
    message: str
    remediation: str
    details: list[str] = field(default_factory=list)


def run_checks(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    records: Sequence[Record],
    checks: Sequence[SqlCheck],
    settings: Mapping[str, Any],
) -> list[CheckHit]:
    """Run `checks` over `records`, the mapped records of `run_id`, on the state's connection.

    `settings` holds the school-file values of `school_settings` (lawful_basis, ufsm_year_codes,
    staff_id_prefix, include_enrolment_statuses, dietary_allow) and `today` (a date; default
    clock.today()). One hit per check and record type, records in natural order. A check runs
    only when the run has records of a type it applies to. A query that fails raises ConfigError
    naming the check and where it is written.
    """
    install(con, run_id, records, settings)
    try:
        present = {row[0] for row in con.execute("SELECT DISTINCT type FROM people").fetchall()}
        hits: list[CheckHit] = []
        for check in checks:
            if present.intersection(check.applies_to):
                hits += _run_one(con, check)
        return hits
    finally:
        uninstall(con)


def _run_one(con: duckdb.DuckDBPyConnection, check: SqlCheck) -> list[CheckHit]:
    def fail(why: str) -> ConfigError:
        return ConfigError(
            f"{check.where}: the check '{check.name}' {why}. Fix its sql there (see "
            "docs/checks.md), then run `bromsync validate` on the file"
        )

    try:
        columns = query_columns(con, check.sql)
        if "mis_id" not in columns:
            raise fail(f"returned no mis_id column (it returned {', '.join(columns)})")
        detail = "q.detail::VARCHAR" if "detail" in columns else "NULL"
        if "type" in columns:
            kind, join = "q.type::VARCHAR", ""
        else:
            # Without a type column, a record's type is the one it has in this run; a mis_id held
            # by two types (a duplicate) is flagged for each of them that the check concerns.
            kinds = ", ".join(f"'{k}'" for k in check.applies_to)
            kind = "p.type"
            join = f"LEFT JOIN people p ON p.mis_id = q.mis_id::VARCHAR AND p.type IN ({kinds})"
        query = f"SELECT DISTINCT {kind}, q.mis_id::VARCHAR, {detail} FROM ({wrapped(check.sql)}) q {join}"
        rows = con.execute(query).fetchall()
    except duckdb.Error as exc:
        raise fail(f"failed on this run's data: {str(exc).splitlines()[0]}") from exc
    found: dict[str, tuple[set[str], set[str]]] = {}
    for kind, mis_id, value in rows:
        if mis_id is None:
            raise fail("returned a row with no mis_id; every row must name an offending record")
        if kind not in check.applies_to:
            applies = ", ".join(check.applies_to)
            if kind is None:
                raise fail(
                    f"flagged {mis_id}, which is not a record of this run of a type it applies to ({applies})"
                )
            raise fail(
                f"returned type '{kind}' for {mis_id}, which is not in its applies_to ({applies})"
            )
        ids, details = found.setdefault(kind, (set(), set()))
        ids.add(mis_id)
        if value is not None:
            details.add(value)
    hits = []
    for kind in (k for k in TYPES if k in found):
        ids, details = found[kind]
        records, listed = sorted(ids, key=natural_key), sorted(details, key=natural_key)
        hits.append(
            CheckHit(
                check.name, check.severity, kind, records, check.message, check.remediation, listed
            )
        )
    return hits


def held_ids(hits: Iterable[CheckHit]) -> set[str]:
    """The mis_ids an error-severity hit holds back: neither planned nor archived."""
    return {mis_id for hit in hits if hit.severity == "error" for mis_id in hit.records}
