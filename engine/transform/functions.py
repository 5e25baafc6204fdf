"""The JMESPath functions the mapping language adds, all in one place.

JMESPath cannot say "on today's date" or "case-insensitively", so the mappings get a few named
functions instead of Python per field. Each is documented in `mappings/README.md`; keep the two
in step. Dates in mapping documents are ISO strings (`2016-06-02T00:00:00`), the wall-clock time
Bromcom wrote, so a date's first ten characters are its day.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import jmespath
from jmespath import functions


class NotADate(jmespath.exceptions.JMESPathError):
    """A function that needs a date was given a value that is not one (as Bromcom sent it)."""

    def __init__(self, function: str, value: object) -> None:
        super().__init__(f"{function}() needs a date, and {value!r} is not one")
        self.function = function
        self.value = value


def iso_day(value: object, function: str = "date") -> str | None:
    """The `YYYY-MM-DD` day of an ISO 8601 date or datetime; None for null or empty.

    The day is the one written, whatever offset follows it. Anything else ("31/02/2015",
    "2015-13-01") raises NotADate: a day read out of it would be a guess.
    """
    if type(value) is str:
        # Most of a school's dates are a few hundred days written again and again.
        day = _day_of_text(value)
        if day is None and value != "":
            raise NotADate(function, value)
        return day
    if value is None or value == "":
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    try:
        return dt.datetime.fromisoformat(str(value).strip()).date().isoformat()
    except ValueError:
        raise NotADate(function, value) from None


@functools.lru_cache(maxsize=8192)
def _day_of_text(text: str) -> str | None:
    """`iso_day` of a string: its day, or None for "" and for text that is not a date."""
    if text == "":
        return None
    try:
        return dt.datetime.fromisoformat(text.strip()).date().isoformat()
    except ValueError:
        return None


class MappingFunctions(functions.Functions):
    """Custom functions bound to one school's settings and one day."""

    # Those whose result holds the items of their first argument (a list of rows stays a list
    # of those rows), so the column analysis (engine/transform/columns.py) follows them; it
    # follows no other custom function's result.
    KEEP_ITEMS: frozenset[str] = frozenset({"unique"})

    def __init__(self, *, today: dt.date, settings: Mapping[str, Any]) -> None:
        super().__init__()
        self.today_iso = today.isoformat()
        self.today = today
        self.settings = settings

    @functions.signature()
    def _func_today(self) -> str:
        """today() -> the run's date as YYYY-MM-DD (BROMSYNC_TODAY if set)."""
        return self.today_iso

    @functions.signature({"types": ["string", "null"]})
    def _func_date(self, value: str | None) -> str | None:
        """date(x) -> the YYYY-MM-DD day of a date/datetime, as written (never shifted).

        A value that is not a date is returned as it is, so the record carries what Bromcom
        sent and the check `not_a_date` holds that one record back, naming the value; the
        rest of the school goes.
        """
        try:
            return iso_day(value)
        except NotADate:
            return value

    @functions.signature({"types": ["string", "null"]}, {"types": ["string", "null"]})
    def _func_current(self, start: str | None, end: str | None) -> bool:
        """current(start, end) -> true when start <= today <= end; a null bound is open."""
        # Not a date is an error, never a guess: a start read wrongly leaves a pupil off roll
        # (archived) or a free-meal period out (charged).
        start_day, end_day = iso_day(start, "current"), iso_day(end, "current")
        return (start_day is None or start_day <= self.today_iso) and (
            end_day is None or end_day >= self.today_iso
        )

    @functions.signature({"types": ["string"]})
    def _func_setting(self, name: str) -> Any:
        """setting(name) -> a value from the school file (see mappings/README.md for names)."""
        if name not in self.settings:
            known = ", ".join(sorted(self.settings))
            raise jmespath.exceptions.JMESPathError(f"unknown setting {name!r}; known: {known}")
        return self.settings[name]

    @functions.signature({"types": ["string", "null"]})
    def _func_year_code(self, value: str | None) -> str | None:
        """year_code(x) -> x after the school's year_code_aliases; otherwise x unchanged."""
        if value is None:
            return None
        aliases: Mapping[str, str] = self.settings.get("year_code_aliases", {})
        return aliases.get(value, value)

    @functions.signature({"types": ["array"]}, {"types": ["string", "null"]})
    def _func_icontains(self, haystack: list[Any], needle: str | None) -> bool:
        """icontains(list, s) -> true when s equals an item of list, ignoring case."""
        if needle is None:
            return False
        folded = needle.casefold()
        return any(isinstance(item, str) and item.casefold() == folded for item in haystack)

    @functions.signature({"types": ["array"]})
    def _func_unique(self, items: list[Any]) -> list[Any]:
        """unique(list) -> the items of list without repeats, each where it first appears.

        ParentPay refuses a dietary list that names the same need twice, and Bromcom can hold
        the same condition twice (two current periods); JMESPath has no way to drop repeats.
        """
        out: list[Any] = []
        for item in items:
            if item not in out:
                out.append(item)
        return out

    @functions.signature({"types": ["string", "null"]}, {"types": ["string"]})
    def _func_age_on(self, dob: str | None, month_day: str) -> int | None:
        """age_on(dob, 'MM-DD') -> age in whole years on the last MM-DD on or before today.

        With '08-31' this is England's cohort rule: a Reception child is 4 on the 31 August
        that began the school year.
        """
        day = iso_day(dob, "age_on")
        if day is None:
            return None
        born = dt.date.fromisoformat(day)
        month, mday = (int(part) for part in month_day.split("-"))
        on = dt.date(self.today.year, month, mday)
        if on > self.today:
            on = dt.date(self.today.year - 1, month, mday)
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
