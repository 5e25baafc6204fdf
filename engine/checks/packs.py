"""Check packs: the YAML files of SQL checks (`checks/*.yaml`), loaded and validated.

A check is a DuckDB SELECT that returns the offending records (`mis_id`, optionally `type` and
`detail`), with a severity and words for a school data manager. Every query is parsed when its
pack loads: one that is not a single SELECT is a located problem (`path:line:col`). `bromsync
validate` also binds each query against an empty state with the run's context
(engine/checks/context.py), so a misspelt table or column is located there too; a run binds its
checks on its own connection when they run (engine/checks/run.py), before anything is planned.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from engine.checks.context import install, query_columns
from engine.config.school import SchoolConfig
from engine.config.yamlfile import Problem, load_yaml, schema_problems
from engine.errors import ConfigError
from engine.shipped import checks_dir, schemas_dir
from engine.state.store import State

OUTPUT_COLUMNS = ("mis_id", "type", "detail")
_COLUMNS_RULE = "a check returns mis_id, and optionally type and detail"
# DuckDB's "did you mean" on a near-empty catalog points at its own system tables; say nothing.
_SYSTEM_NAME = re.compile(r'"(pragma_|pg_|duckdb_|sqlite_|information_schema)')
_LINE = re.compile(r"LINE (\d+): (.*)\n( *)\^")
_KIND = re.compile(r"^[A-Za-z ]*Error: ")
_RAW_MISSING = re.compile(r"Table with name (raw_\w+) does not exist")


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((schemas_dir() / "checks.schema.json").read_text())
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
    locked: bool = False  # a school file may not change its severity (docs/checks.md)


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
    con: duckdb.DuckDBPyConnection | None,
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
    if con is None:
        return []
    try:
        columns = query_columns(con, sql)
    except duckdb.Error as exc:
        if _RAW_MISSING.search(str(exc)):
            # raw_<entity> tables are typed from the school's own Bromcom response, so they
            # exist only in a school's state: such a query is bound when it first runs.
            return []
        return [problem(*_duckdb_problem(exc, sql, 1))]
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


def compile_checks(path: Path, *, bind: bool = True) -> tuple[list[SqlCheck], list[Problem]]:
    """Load and validate one check pack: its checks, or every problem of the file, located.

    With `bind`, each query is also bound against an empty state with the run's context, so a
    wrong table or column name is a problem here. A run loads its packs without: its checks
    are bound when they run, on the run's own connection, and one that fails names itself and
    where it is written (engine/checks/run.py). `bromsync validate` binds.
    """
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
    state = State(Path(":memory:")) if bind else None  # the real tables and views, no rows
    con = None if state is None else state.con
    try:
        if con is not None:
            install(con, "", [], {})
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
            problems += _sql_problems(con, sql, index, path, (line, col), lines)
            checks.append(
                SqlCheck(
                    name=name,
                    severity=spec["severity"],
                    applies_to=tuple(spec["applies_to"]),
                    sql=sql,
                    message=" ".join(spec["message"].split()),
                    remediation=" ".join(spec["remediation"].split()),
                    where=f"{path}:{line}:{col}",
                    locked=spec.get("locked", False),
                )
            )
    finally:
        if state is not None:
            state.close()
    if problems:
        return [], sorted(problems, key=lambda p: (p.line, p.col))
    return checks, []


def check_problems(path: Path) -> list[Problem]:
    """Every problem of one check pack, located (for `bromsync validate`)."""
    return compile_checks(path)[1]


def load_checks(paths: Iterable[Path] | None = None, *, bind: bool = True) -> list[SqlCheck]:
    """The checks of `paths` (default: every pack shipped in checks/), or ConfigError listing
    every problem; names must be unique across the packs. `bind` as for compile_checks."""
    paths = sorted(checks_dir().glob("*.yaml")) if paths is None else list(paths)
    out: list[SqlCheck] = []
    problems: list[str] = []
    where: dict[str, str] = {}
    for path in paths:
        checks, found = compile_checks(path, bind=bind)
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


def school_checks(school: SchoolConfig) -> list[SqlCheck]:
    """The checks one school runs: the shipped packs and its own (`checks.packs`), with the
    severities its file sets (`checks.severity`; `off` drops a check). ConfigError if the file
    names a check no pack has, or changes a locked one."""
    checks = _packs_for(school.check_packs)
    problems = _severity_problems(school, checks)
    if problems:
        raise ConfigError(
            f"the checks settings of {school.path} are invalid:\n" + "\n".join(problems),
            problems=problems,
            school=str(school.path),
        )
    out = []
    for check in checks:
        severity = school.check_severity.get(check.name, check.severity)
        if severity != "off":
            out.append(dataclasses.replace(check, severity=severity))
    return out


def school_check_problems(school: SchoolConfig) -> list[Problem]:
    """`bromsync validate`: the school's own packs and its severity settings, located."""
    problems = [p for pack in school.check_packs for p in check_problems(pack)]
    if problems:
        return problems
    _, locator, _ = load_yaml(school.path)
    try:
        checks = _packs_for(school.check_packs)
    except ConfigError as exc:  # e.g. a check name the school's pack shares with a shipped one
        line, col = locator.key(("checks", "packs"))
        return [Problem(str(school.path), line, col, f"checks.packs: {p}") for p in exc.problems]
    out = []
    for name, message in _severity_messages(school, checks):
        line, col = locator.key(("checks", "severity", name))
        out.append(Problem(str(school.path), line, col, message))
    return out


def shipped_checks() -> list[SqlCheck]:
    """The checks of the packs shipped in checks/, as they are written."""
    return _packs_for(())


@cache
def _packs_for(own: tuple[Path, ...]) -> list[SqlCheck]:
    return load_checks([*sorted(checks_dir().glob("*.yaml")), *own], bind=False)


def _severity_messages(school: SchoolConfig, checks: list[SqlCheck]) -> list[tuple[str, str]]:
    by_name = {c.name: c for c in checks}
    out = []
    for name, severity in school.check_severity.items():
        check = by_name.get(name)
        if check is None:
            near = difflib.get_close_matches(name, by_name, n=1)
            hint = (
                f"; did you mean '{near[0]}'?"
                if near
                else "; `bromsync validate` lists none by that name"
            )
            out.append((name, f"checks.severity: there is no check named '{name}'{hint}"))
        elif check.locked and severity != check.severity:
            out.append((
                name,
                f"checks.severity: '{name}' cannot be set to {severity}: it is locked, because "
                "it stops one person's ParentPay account passing to another (docs/checks.md)",
            ))  # fmt: skip
    return out


def _severity_problems(school: SchoolConfig, checks: list[SqlCheck]) -> list[str]:
    return [f"{school.path}: {message}" for _, message in _severity_messages(school, checks)]
