"""School-year arithmetic for England: a school year runs 1 September to 31 August, and a
year group is everyone born between 1 September and the following 31 August.

Year groups are indexed by the number of years after Reception: R = 0, Year 1 = 1 ... Year 13.
"""

from __future__ import annotations

import datetime as dt
import random


def school_year_of(day: dt.date) -> int:
    """The calendar year in which the school year holding `day` began (2026 for 2026/27)."""
    return day.year if day.month >= 9 else day.year - 1


def year_code(index: int) -> str:
    """ParentPay's code for a year group: "R" for Reception, else the number."""
    return "R" if index == 0 else str(index)


def year_index(code: str) -> int | None:
    """The index of a ParentPay year code, or None for anything else ("Year 1", "N1")."""
    if code == "R":
        return 0
    return int(code) if code.isdigit() and 1 <= int(code) <= 14 else None


def cohort_range(index: int, school_year: int) -> tuple[dt.date, dt.date]:
    """First and last date of birth of year group `index` in the school year `school_year`.

    Reception in 2026/27 is born 1 Sep 2021 - 31 Aug 2022: they turn five during the year.
    """
    return dt.date(school_year - 5 - index, 9, 1), dt.date(school_year - 4 - index, 8, 31)


def random_dob(rng: random.Random, index: int, school_year: int) -> dt.date:
    first, last = cohort_range(index, school_year)
    return first + dt.timedelta(days=rng.randrange((last - first).days + 1))


def weekday_on_or_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def first_day(school_year: int) -> dt.date:
    """The day pupils joining at the start of `school_year` are recorded as starting."""
    return weekday_on_or_after(dt.date(school_year, 9, 1))


def random_day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    """A school day (Monday-Friday) between `first` and `last`, both included if possible."""
    if last < first:
        return first
    day = first + dt.timedelta(days=rng.randrange((last - first).days + 1))
    if day.weekday() >= 5:
        nearer = day - dt.timedelta(days=day.weekday() - 4)
        day = nearer if nearer >= first else weekday_on_or_after(day)
    return day


def week_of(today: dt.date) -> dt.date:
    """The Monday of this school week; at a weekend, of the coming one."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday + dt.timedelta(days=7) if today.weekday() >= 5 else monday
