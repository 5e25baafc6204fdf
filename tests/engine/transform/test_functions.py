"""engine/transform/functions.py: the JMESPath functions the mappings may call."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jmespath
import pytest

from engine.transform.functions import MappingFunctions, NotADate, iso_day

TODAY = dt.date(2026, 11, 28)


def search(expression: str, data: Any, **settings: Any) -> Any:
    functions = MappingFunctions(today=TODAY, settings=settings)
    return jmespath.search(expression, data, options=jmespath.Options(custom_functions=functions))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, True),
        ("2026-11-28T00:00:00", None, True),
        ("2026-11-29T00:00:00", None, False),
        (None, "2026-11-28T00:00:00", True),
        (None, "2026-11-27T00:00:00", False),  # an FSM period that ended yesterday
        ("2020-09-01T00:00:00", "2027-07-20T00:00:00", True),
    ],
)
def test_current(start: str | None, end: str | None, expected: bool) -> None:
    assert search("current(s, e)", {"s": start, "e": end}) is expected


def test_date_keeps_the_day_as_written() -> None:
    # 2 June 2016 written in BST: read as written, never shifted back to 1 June.
    assert search("date(d)", {"d": "2016-06-02T00:00:00"}) == "2016-06-02"
    assert search("date(d)", {"d": None}) is None


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("2016-06-02", "2016-06-02"),
        ("2016-06-02T23:30:00+01:00", "2016-06-02"),  # the day written, never moved to UTC
        ("2016-06-02 00:00:00", "2016-06-02"),
        ("2016-06-02T00:00:00.1234567+00:00", "2016-06-02"),
        ("20160602", "2016-06-02"),  # ISO 8601's basic form
    ],
)
def test_date_reads_iso_8601(written: str, day: str) -> None:
    assert search("date(d)", {"d": written}) == day


@pytest.mark.parametrize(
    "written", ["31/02/2015", "2015-13-01", "2015-02-30", "02/06/2016", "soon"]
)
def test_date_keeps_a_value_that_is_not_a_date_as_sent(written: str) -> None:
    # Never a guess at the day: the record carries it, and the check not_a_date holds it back.
    assert search("date(d)", {"d": written}) == written


@pytest.mark.parametrize(
    "expression", ["current(s, `null`)", "current(`null`, s)", "age_on(s, '08-31')"]
)
def test_current_and_age_on_refuse_a_value_that_is_not_a_date(expression: str) -> None:
    with pytest.raises(NotADate) as caught:
        search(expression, {"s": "01/09/2025"})
    assert caught.value.value == "01/09/2025"
    assert (
        str(caught.value)
        == f"{expression.partition('(')[0]}() needs a date, and '01/09/2025' is not one"
    )


class _Text(str):
    """A str of another type, which iso_day reads the long way round."""


@pytest.mark.parametrize("make", [str, _Text])
def test_iso_day_of_text_is_the_same_asked_twice(make: Any) -> None:
    # Days of text are remembered (a school's dates repeat): a refusal must be too, each time.
    for _ in range(2):
        assert iso_day(make(" 2016-06-02T00:00:00+01:00 ")) == "2016-06-02"
        assert iso_day(make("")) is None
        with pytest.raises(NotADate) as caught:
            iso_day(make("2015-13-01"), "current")
        assert caught.value.function == "current"
        assert caught.value.value == "2015-13-01"


def test_year_code_applies_aliases_only() -> None:
    aliases = {"Year 1": "1", "Rec": "R"}
    assert search("year_code(y)", {"y": "Year 1"}, year_code_aliases=aliases) == "1"
    assert search("year_code(y)", {"y": "Yr 2"}, year_code_aliases=aliases) == "Yr 2"


def test_icontains_ignores_case() -> None:
    assert search('icontains(`["Nut Allergy"]`, c)', {"c": "nut allergy"}) is True
    assert search('icontains(`["Nut Allergy"]`, c)', {"c": "Asthma"}) is False


@pytest.mark.parametrize(
    ("dob", "age"),
    [("2021-09-01", 4), ("2022-08-31", 4), ("2021-08-31", 5), ("2022-09-01", 3)],
)
def test_age_on_31_august_is_the_cohort_age(dob: str, age: int) -> None:
    # On 2026-11-28 the school year began on 2026-08-31: Reception children were 4 then.
    assert search("age_on(d, '08-31')", {"d": dob}) == age


def test_unknown_setting_names_the_known_ones() -> None:
    with pytest.raises(jmespath.exceptions.JMESPathError, match="known: lawful_basis"):
        search("setting('nope')", {}, lawful_basis="consent")
