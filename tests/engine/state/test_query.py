"""engine/state/query.py: the answers of `sql` and `sql-all` as JSON and CSV for programs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner, Result

from bromsync import cli
from engine.errors import StateError
from engine.state.query import as_csv, as_json, plain_value
from tests.conftest import Stack


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def answer(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    con = duckdb.connect()
    try:
        cursor = con.execute(sql)
        return [d[0] for d in cursor.description or []], cursor.fetchall()
    finally:
        con.close()


TYPED = """
SELECT 1 AS n, 'Ann' AS name, NULL AS nothing, true AS yes, DATE '2026-11-28' AS dob,
       TIMESTAMP '2026-11-28 06:30:00' AS at, INTERVAL 90 SECOND AS took,
       1.50::DECIMAL(4, 2) AS price, 3::DECIMAL(4, 0) AS whole, 'nan'::DOUBLE AS nan,
       ['a', 'b, c'] AS list, {'since': DATE '2025-09-01'} AS struct, '\\xAA'::BLOB AS raw
"""


def test_json_is_a_list_of_objects_with_iso_dates() -> None:
    [row] = json.loads(as_json(*answer(TYPED)))
    assert row == {
        "n": 1,
        "name": "Ann",
        "nothing": None,
        "yes": True,
        "dob": "2026-11-28",
        "at": "2026-11-28T06:30:00",
        "took": "PT90S",
        "price": 1.5,
        "whole": 3,
        "nan": None,
        "list": ["a", "b, c"],
        "struct": {"since": "2025-09-01"},
        "raw": "qg==",
    }
    assert list(row) == answer(TYPED)[0]  # the columns' order is kept


def test_json_of_no_rows_is_an_empty_list() -> None:
    assert json.loads(as_json(*answer("SELECT 1 AS n WHERE false"))) == []


def test_json_refuses_two_columns_of_one_name() -> None:
    with pytest.raises(StateError, match="both named 'n'.*AS"):
        as_json(*answer("SELECT 1 AS n, 2 AS n"))


def test_csv_has_a_header_and_one_line_per_row() -> None:
    text = as_csv(*answer(TYPED))
    assert text.endswith("\r\n")
    header, row = list(csv.reader(io.StringIO(text)))
    assert header == answer(TYPED)[0]
    assert row == [
        "1", "Ann", "", "true", "2026-11-28", "2026-11-28T06:30:00", "PT90S", "1.5", "3", "",
        '["a", "b, c"]', '{"since": "2025-09-01"}', "qg==",
    ]  # fmt: skip
    assert as_csv(*answer("SELECT 1 AS n WHERE false")) == "n\r\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.timedelta(days=3), "P3D"),
        (dt.timedelta(days=1, seconds=0.5), "P1DT0.5S"),
        (dt.timedelta(0), "PT0S"),
        (dt.timedelta(seconds=-90), "-PT90S"),
        (dt.time(8, 45), "08:45:00"),
        (Decimal("2.25"), 2.25),
        (float("inf"), None),
    ],
)
def test_plain_values(value: Any, expected: Any) -> None:
    assert plain_value(value) == expected


def test_sql_and_sql_all_print_json_and_csv(stack: Stack) -> None:
    bromsync("run", str(stack.school_file))
    query = "SELECT mis_id, dob FROM current_pupils WHERE mis_id IN ('1001', '1002') ORDER BY 1"
    result = bromsync("sql", str(stack.school_file), query, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["mis_id"] for r in rows] == ["1001", "1002"]
    assert all(dt.date.fromisoformat(r["dob"]) for r in rows)

    every = bromsync(
        "sql-all", "SELECT urn, count(*) AS pupils FROM all_current_pupils GROUP BY urn",
        "--format", "csv",
    )  # fmt: skip
    assert every.exit_code == 0, every.output
    assert every.output.splitlines() == ["urn,pupils", "100001,9"]

    table = bromsync("sql", str(stack.school_file), query)  # a table, as before
    assert "mis_id" in table.output and "|" in table.output
