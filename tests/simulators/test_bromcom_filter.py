"""The simulator's entityFilter: SQL Server WHERE-clause semantics, table-driven."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from simulators.bromcom.filter import FilterError, compile_filter

COLUMNS = ["StudentID", "FirstName", "LastName", "YearGroup", "StartDate", "EndDate", "Consent"]
D = dt.datetime
ROWS = [
    {"StudentID": 1, "FirstName": "Sam", "LastName": "O'Neil", "YearGroup": "R",
     "StartDate": D(2011, 9, 1), "EndDate": None, "Consent": True},
    {"StudentID": 2, "FirstName": "Sarah", "LastName": "Smith ", "YearGroup": "7",
     "StartDate": D(2009, 9, 1), "EndDate": D(2014, 7, 20), "Consent": False},
    {"StudentID": 3, "FirstName": "Ben", "LastName": None, "YearGroup": "10",
     "StartDate": D(2010, 9, 1), "EndDate": D(2020, 7, 20), "Consent": None},
    {"StudentID": 4, "FirstName": "Zoë", "LastName": "100% Ltd_x", "YearGroup": None,
     "StartDate": None, "EndDate": None, "Consent": True},
]  # fmt: skip
NOW = D(2015, 1, 15)


def ids(source: str | None, now: dt.datetime = NOW) -> list[int]:
    keep = compile_filter(source, COLUMNS, now)
    return [int(row["StudentID"]) for row in ROWS if keep(row)]  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", [1, 2, 3, 4]),
        (None, [1, 2, 3, 4]),
        ("   ", [1, 2, 3, 4]),
        # docs/bromcom.md's examples
        ("StartDate > '20100901' AND FirstName LIKE 'S%'", [1]),
        ("GETDATE() BETWEEN StartDate AND ISNULL(EndDate, GETDATE())", [1, 3]),
        # comparisons and type conversion
        ("StudentID = 2", [2]),
        ("StudentID <> 2", [1, 3, 4]),
        ("StudentID != 2", [1, 3, 4]),
        ("StudentID < 3", [1, 2]),
        ("StudentID <= 3", [1, 2, 3]),
        ("StudentID > 3", [4]),
        ("StudentID >= 3", [3, 4]),
        ("StudentID = '2'", [2]),
        ("StudentID = -1", []),
        ("StudentID = 2.0", [2]),
        ("StartDate >= '2010-09-01'", [1, 3]),
        ("StartDate = '2010-09-01T00:00:00'", [3]),
        ("StartDate < '20100901 08:30'", [2, 3]),
        ("Consent = 1", [1, 4]),
        ("Consent = 'false'", [2]),
        # strings: case-insensitive, trailing spaces ignored, '' escapes a quote
        ("FirstName = 'SAM'", [1]),
        ("LastName = 'smith'", [2]),
        ("LastName = 'O''Neil'", [1]),
        ("LastName = N'o''neil'", [1]),
        ("FirstName > 'R'", [1, 2, 4]),
        # LIKE
        ("FirstName LIKE 's%'", [1, 2]),
        ("FirstName LIKE '_en'", [3]),
        ("FirstName NOT LIKE 'S%'", [3, 4]),
        ("FirstName LIKE '[BZ]%'", [3, 4]),
        ("FirstName LIKE '[^BZ]%'", [1, 2]),
        ("LastName LIKE '%!%%' ESCAPE '!'", [4]),
        ("LastName LIKE '%[_]x'", [4]),
        ("LastName LIKE '%'", [1, 2, 4]),
        ("StudentID LIKE '1'", [1]),
        # IN
        ("StudentID IN (1, 3)", [1, 3]),
        ("StudentID NOT IN (1, 3)", [2, 4]),
        ("YearGroup IN ('r', '7')", [1, 2]),
        # as bromsync fetches the allowed medical conditions: quoted, any case, ' doubled
        ("LastName IN ('o''NEIL', 'SMITH')", [1, 2]),
        ("LastName IN ('O''Neil') OR FirstName IN ('ben')", [1, 3]),
        ("StudentID IN (1, NULL)", [1]),
        ("StudentID NOT IN (1, NULL)", []),
        # NULL semantics: a comparison with NULL is unknown, and NOT unknown is unknown
        ("EndDate IS NULL", [1, 4]),
        ("EndDate IS NOT NULL", [2, 3]),
        ("EndDate = NULL", []),
        ("EndDate <> NULL", []),
        ("LastName <> 'Smith'", [1, 4]),
        ("NOT (LastName = 'Smith')", [1, 4]),
        ("NOT (EndDate > '20150101')", [2]),
        ("Consent = 1 OR Consent = 0", [1, 2, 4]),
        ("NOT (Consent = 1 AND EndDate IS NULL)", [2, 3]),
        ("ISNULL(LastName, 'none') = 'NONE'", [3]),
        ("COALESCE(EndDate, StartDate, '19000101') < '20000101'", [4]),
        # BETWEEN
        ("StudentID BETWEEN 2 AND 3", [2, 3]),
        ("StudentID NOT BETWEEN 2 AND 3", [1, 4]),
        ("StartDate BETWEEN '20090101' AND '20101231'", [2, 3]),
        # precedence: AND binds tighter than OR; NOT tighter than AND
        ("StudentID = 1 OR StudentID = 2 AND FirstName = 'Ben'", [1]),
        ("(StudentID = 1 OR StudentID = 2) AND FirstName = 'Sarah'", [2]),
        ("NOT StudentID = 1 AND StudentID < 3", [2]),
        ("((StudentID = 4))", [4]),
        ("(StudentID) = 4", [4]),
        # names: any case, brackets, quotes; keywords any case; comments
        ("studentid = 1", [1]),
        ("[FIRSTNAME] = 'ben'", [3]),
        ("\"FirstName\" = 'ben'", [3]),
        ("studentid in (1) or STUDENTID between 4 and 4", [1, 4]),
        ("StudentID = 1 -- a comment", [1]),
        ("1 = 1", [1, 2, 3, 4]),
        ("1 = 0", []),
    ],
)
def test_filter_selects(source: str | None, expected: list[int]) -> None:
    assert ids(source) == expected


def test_getdate_is_the_now_given() -> None:
    source = "GETDATE() BETWEEN StartDate AND ISNULL(EndDate, GETDATE())"
    assert ids(source, D(2010, 1, 1)) == [2]
    assert ids(source, D(2021, 1, 1)) == [1]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("StudentID =", "Incorrect syntax near '='."),
        ("StudentID = 1 AND", "Incorrect syntax near 'AND'."),
        ("StudentID = 1 ORR StudentID = 2", "Incorrect syntax near 'ORR'."),
        ("StudentID == 1", "Incorrect syntax near '='."),
        ("(StudentID = 1", "Incorrect syntax near '1'."),
        ("StudentID = 1)", "Incorrect syntax near ')'."),
        ("StudentID = 1; DROP TABLE Students", "Incorrect syntax near ';'."),
        ("StudentID IN ()", "Incorrect syntax near ')'."),
        ("StudentID IS 1", "Incorrect syntax near '1'."),
        ("StudentID BETWEEN 1 OR 2", "Incorrect syntax near 'OR'."),
        ("SELECT * FROM Students", "Incorrect syntax near 'SELECT'."),
        ("StudentID = 1 * 2", "Incorrect syntax near '*'."),
        ("Surname = 'x'", "Invalid column name 'Surname'."),
        ("[First Name] = 'x'", "Invalid column name 'First Name'."),
        # syntax is checked before names, as SQL Server does
        ("Surname = 'x' AND", "Incorrect syntax near 'AND'."),
        ("FirstName = 'Sam", "Unclosed quotation mark after the character string 'Sam'."),
        ("FirstName = 'O''Neil", "Unclosed quotation mark after the character string 'O'Neil'."),
        (
            "StudentID",
            (
                "An expression of non-boolean type specified in a context where a "
                "condition is expected, near 'StudentID'."
            ),
        ),
        ("LEN(FirstName) = 3", "'LEN' is not a recognized built-in function name."),
        ("ISNULL(EndDate) IS NULL", "The isnull function requires 2 argument(s)."),
        ("GETDATE(1) > StartDate", "The getdate function requires 0 argument(s)."),
    ],
)
def test_filter_refused(source: str, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(source, COLUMNS, NOW)
    assert caught.value.reason == message


DATE_CONVERSION = "Conversion failed when converting date and/or time from character string."


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "YearGroup = 7",
            "Conversion failed when converting the varchar value 'R' to data type int.",
        ),
        ("StartDate > 'soon'", DATE_CONVERSION),
        ("StartDate > '20101301'", DATE_CONVERSION),
        (
            "StudentID = 'one'",
            "Conversion failed when converting the varchar value 'one' to data type int.",
        ),
    ],
)
def test_conversion_errors_surface_when_rows_are_read(source: str, message: str) -> None:
    keep = compile_filter(source, COLUMNS, NOW)
    with pytest.raises(FilterError) as caught:
        [keep(row) for row in ROWS]
    assert caught.value.reason == message


def test_decimal_columns_compare_as_numbers() -> None:
    keep = compile_filter("Amount >= 2.5 AND Amount < '10'", ["Amount"], NOW)
    assert [keep({"Amount": Decimal(v)}) for v in ("2.4", "2.5", "9.99", "10")] == [
        False, True, True, False,
    ]  # fmt: skip
