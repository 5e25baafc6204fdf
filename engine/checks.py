"""Checks: SQL rules over one run's staged records, declared in YAML packs (`checks/*.yaml`).

A check is a DuckDB SELECT that returns the offending records (`mis_id`, optionally `type` and
`detail`), with a severity and words for a school data manager. Queries never see the state's
history: before they run, `run_checks` creates TEMP tables and macros scoped to the current run
(`pupils`, `staff`, `preadmissions`, `people`, `school_settings`...), documented in
`docs/checks.md`, which is the contract for check authors. Every query is parsed and bound when
its pack loads, against an empty state with the same names, so a typo in SQL is a located
validation problem (`path:line:col`), never a failure half-way through a run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from engine import clock
from engine.diff import TYPES, natural_key
from engine.errors import ConfigError
from engine.records import PARENTPAY_YEAR_CODES, RECORD_FIELDS
from engine.stage import State
from engine.yamlfile import Problem, load_yaml, schema_problems

OUTPUT_COLUMNS = ("mis_id", "type", "detail")
_DATE_FIELDS = frozenset({"dob", "fsm_start", "fsm_end", "admission_date"})
_TABLE_FOR = {"pupil": "pupils", "staff": "staff", "preadmission": "preadmissions"}
_TEMP_TABLES = (*_TABLE_FOR.values(), "people", "school_settings", "parentpay_year_codes")
_COLUMNS_RULE = "a check returns mis_id, and optionally type and detail"
# England's cohort rule (PARENTPAY.md): a school year runs 1 September to 31 August, and a
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
# DuckDB's "did you mean" on a near-empty catalog points at its own system tables; say nothing.
_SYSTEM_NAME = re.compile(r'"(pragma_|pg_|duckdb_|sqlite_|information_schema)')
_LINE = re.compile(r"LINE (\d+): (.*)\n( *)\^")
_KIND = re.compile(r"^[A-Za-z ]*Error: ")
_RAW_MISSING = re.compile(r"Table with name (raw_\w+) does not exist")


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


def checks_dir() -> Path:
    """The folder of the check packs shipped with bromsync."""
    return Path(str(resources.files("checks")))


def _schema() -> dict[str, Any]:
    folder = Path(str(resources.files("schemas")))
    schema: dict[str, Any] = json.loads((folder / "checks.schema.json").read_text())
    return schema


@dataclass(frozen=True)
class SqlCheck:
    """One check of a pack, validated."""

    name: str
    severity: str
    applies_to: tuple[str, ...]
    sql: str
    message: str
    remediation: str
    where: str  # "path:line:col" of its sql, for errors at run time


# -- the run's context: what a check's SQL may read -----------------------------------------


def _install(con: duckdb.DuckDBPyConnection, run_id: str, settings: Mapping[str, Any]) -> None:
    """Create the TEMP tables, view and macros checks read, scoped to `run_id`."""
    for name, body in _MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")
    for kind, table in _TABLE_FOR.items():
        columns = ", ".join(
            f"TRY_CAST({n} AS DATE) AS {n}" if n in _DATE_FIELDS else n for n in RECORD_FIELDS[kind]
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT run_id, mis_id, held, {columns} "
            f"FROM main.staged_{kind} WHERE run_id = ?",
            [run_id],
        )
    # One table across types, with the payer's contacts under the names staff use, so checks
    # of identity, email and mobile are written once.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE people AS "
        "SELECT 'pupil' AS type, mis_id, held, upn, forename, surname, dob, year_code, "
        "payer_email AS email, payer_mobile AS mobile FROM pupils UNION ALL "
        "SELECT 'preadmission', mis_id, held, upn, forename, surname, dob, year_code, "
        "payer_email, payer_mobile FROM preadmissions UNION ALL "
        "SELECT 'staff', mis_id, held, NULL, forename, surname, NULL::DATE, NULL, email, mobile "
        "FROM staff"
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


def _uninstall(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the run's context, so analysts on this connection see only the state's own tables."""
    con.execute("DROP VIEW IF EXISTS temp.baseline")
    for kind, name in [*(("TABLE", t) for t in _TEMP_TABLES), *(("MACRO", m) for m in _MACROS)]:
        con.execute(f"DROP {kind} IF EXISTS temp.{name}")


def _wrapped(sql: str) -> str:
    # The newlines keep DuckDB's "LINE n" one below the check's own line n, and let a check end
    # in a `--` comment.
    return f"SELECT * FROM (\n{sql}\n) AS offending"


# -- loading and validation -------------------------------------------------------------------


def _in_file(
    lines: list[str], at: tuple[int, int], sql_line: int | None, sql_col: int
) -> tuple[int, int]:
    """Where line `sql_line`, column `sql_col` (0-based) of a check's SQL was written in the file,
    its value starting at `at`: exact for a `|` block or a one-line value, else `at`."""
    line, col = at
    if sql_line is None or line > len(lines):
        return at
    text = lines[line - 1]
    if text[col - 1 : col] == "|" and line + sql_line <= len(lines):
        content = lines[line + sql_line - 1]
        return line + sql_line, len(content) - len(content.lstrip(" ")) + sql_col + 1
    if sql_line == 1:
        return line, col + sql_col + (1 if text[col - 1 : col] in ("'", '"') else 0)
    return at


def _duckdb_problem(exc: duckdb.Error, sql: str, line_offset: int) -> tuple[int | None, int, str]:
    """DuckDB's message, shortened, with the SQL line it names and a caret: (line, col, text)."""
    text = str(exc)
    first, *rest = [part for part in text.split("\n") if part.strip()]
    hints = [
        part
        for part in rest
        if part.startswith(("Did you mean", "Candidate bindings")) and not _SYSTEM_NAME.search(part)
    ]
    # "Binder Error: ..." names DuckDB's internals; what follows it is what the author needs.
    message = "; ".join(
        [_KIND.sub("", first).rstrip("!").rstrip(), *(hint[0].lower() + hint[1:] for hint in hints)]
    )
    found = _LINE.search(text)
    if found is None:
        return None, 0, message
    sql_line = int(found.group(1)) - line_offset
    col = max(len(found.group(3)) - len(f"LINE {found.group(1)}: "), 0)
    lines = sql.split("\n")
    if not 1 <= sql_line <= len(lines):
        return None, 0, message
    shown = lines[sql_line - 1]
    indent = len(shown) - len(shown.lstrip())
    caret = f"    {shown.strip()}\n    {' ' * max(col - indent, 0)}^"
    return sql_line, max(col, 0), f"{message}{'' if message.endswith('?') else ':'}\n{caret}"


def _sql_problems(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    index: int,
    path: Path,
    start: tuple[int, int],
    lines: list[str],
) -> list[Problem]:
    def problem(sql_line: int | None, sql_col: int, message: str) -> Problem:
        line, col = _in_file(lines, start, sql_line, sql_col)
        return Problem(str(path), line, col, f"checks[{index}].sql: {message}")

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        return [problem(*_duckdb_problem(exc, sql, 0))]
    if len(statements) != 1:
        return [problem(None, 0, f"expected one SELECT query, found {len(statements)} statements")]
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        return [problem(None, 0, f"a check may only read: write one SELECT query, not {kind}")]
    try:
        cursor = con.execute(_wrapped(sql) + " LIMIT 0")
    except duckdb.Error as exc:
        if _RAW_MISSING.search(str(exc)):
            # raw_<entity> tables are typed from the school's own Bromcom response, so they
            # exist only in a school's state: such a query is bound when it first runs.
            return []
        return [problem(*_duckdb_problem(exc, sql, 1))]
    columns = [d[0] for d in cursor.description or []]
    unknown = [c for c in columns if c not in OUTPUT_COLUMNS]
    problems = []
    if "mis_id" not in columns:
        near = difflib.get_close_matches("mis_id", unknown, 1, 0.6)
        hint = f"; if {near[0]} is the record's ID, name it mis_id" if near else ""
        message = f"the query returns no mis_id column (it returns {', '.join(columns)}{hint})"
        problems.append(problem(None, 0, f"{message}; {_COLUMNS_RULE}"))
        unknown = [c for c in unknown if c not in near[:1]]
    for column in unknown:
        close = difflib.get_close_matches(column.lower(), OUTPUT_COLUMNS, 1, 0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        message = f"the query returns a column '{column}' that a check cannot use{hint}"
        problems.append(problem(None, 0, f"{message}; {_COLUMNS_RULE}"))
    return problems


def compile_checks(path: Path) -> tuple[list[SqlCheck], list[Problem]]:
    """Load and validate one check pack: its checks, or every problem of the file, located."""
    data, locator, problems = load_yaml(path)
    if problems:
        return [], problems
    problems = schema_problems(data, locator, _schema(), path)
    if problems:
        return [], problems
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError:  # it was read a moment ago; locations then fall back to the value's start
        lines = []
    checks: list[SqlCheck] = []
    seen: dict[str, int] = {}
    state = State(Path(":memory:"))  # an empty state: the real tables, views and no rows
    try:
        _install(state.con, "", {})
        for index, spec in enumerate(data["checks"]):
            name = spec["name"]
            if name in seen:
                first, _ = locator(("checks", seen[name], "name"))
                message = f"'{name}' is already the name of the check at line {first}"
                at = locator(("checks", index, "name"))
                problems.append(
                    Problem(
                        str(path),
                        *at,
                        f"checks[{index}].name: {message}; give each check its own name",
                    )
                )
            seen.setdefault(name, index)
            sql = spec["sql"].rstrip().removesuffix(";").rstrip()  # the start stays: lines match
            line, col = locator(("checks", index, "sql"))
            problems += _sql_problems(state.con, sql, index, path, (line, col), lines)
            checks.append(
                SqlCheck(
                    name=name,
                    severity=spec["severity"],
                    applies_to=tuple(spec["applies_to"]),
                    sql=sql,
                    message=" ".join(spec["message"].split()),
                    remediation=" ".join(spec["remediation"].split()),
                    where=f"{path}:{line}:{col}",
                )
            )
    finally:
        state.close()
    if problems:
        return [], sorted(problems, key=lambda p: (p.line, p.col))
    return checks, []


def check_problems(path: Path) -> list[Problem]:
    """Every problem of one check pack, located (for `bromsync validate`)."""
    return compile_checks(path)[1]


def load_checks(paths: Iterable[Path] | None = None) -> list[SqlCheck]:
    """The checks of `paths` (default: every pack shipped in checks/), or ConfigError listing
    every problem; names must be unique across the packs."""
    paths = sorted(checks_dir().glob("*.yaml")) if paths is None else list(paths)
    out: list[SqlCheck] = []
    problems: list[str] = []
    where: dict[str, str] = {}
    for path in paths:
        checks, found = compile_checks(path)
        problems += [str(p) for p in found]
        for check in checks:
            if check.name in where:
                problems.append(
                    f"{check.where}: the check name '{check.name}' is also used at "
                    f"{where[check.name]}; give each check its own name"
                )
            where.setdefault(check.name, check.where)
            out.append(check)
    if problems:
        raise ConfigError("the checks are invalid:\n" + "\n".join(problems), problems=problems)
    return out


# -- running ----------------------------------------------------------------------------------


def run_checks(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    checks: Sequence[SqlCheck],
    settings: Mapping[str, Any],
) -> list[CheckHit]:
    """Run `checks` over the records of `run_id` (already saved with State.save_records).

    `settings` holds the school-file values of `school_settings` (lawful_basis, ufsm_year_codes,
    staff_id_prefix, include_enrolment_statuses, dietary_allow) and `today` (a date; default
    clock.today()). One hit per check and record type, records in natural order. A check runs
    only when the run has records of a type it applies to. A query that fails raises ConfigError
    naming the check and where it is written.
    """
    _install(con, run_id, settings)
    try:
        present = {row[0] for row in con.execute("SELECT DISTINCT type FROM people").fetchall()}
        hits: list[CheckHit] = []
        for check in checks:
            if present.intersection(check.applies_to):
                hits += _run_one(con, check)
        return hits
    finally:
        _uninstall(con)


def _run_one(con: duckdb.DuckDBPyConnection, check: SqlCheck) -> list[CheckHit]:
    def fail(why: str) -> ConfigError:
        return ConfigError(
            f"{check.where}: the check '{check.name}' {why}. Fix its sql there (see "
            "docs/checks.md), then run `bromsync validate` on the file"
        )

    try:
        columns = [d[0] for d in con.execute(_wrapped(check.sql) + " LIMIT 0").description or []]
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
        query = f"SELECT DISTINCT {kind}, q.mis_id::VARCHAR, {detail} FROM ({_wrapped(check.sql)}) q {join}"
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
