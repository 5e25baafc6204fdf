"""The state one school's generation threads through: the seeded RNG, dates, ID counters, rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from . import cohorts
from .pools import Heritage, Town


@dataclass
class Household:
    """A family: its adults are the contacts of every child in it, in priority order."""

    heritage: Heritage
    surname: str  # the children's
    address: tuple[str, str, str, str]
    house: str | None
    adults: list[Adult] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    previous: tuple[str, str, str, str] | None = None  # its address before `moved_on`
    moved_on: dt.date | None = None
    births: dict[int, dt.date] = field(default_factory=dict)  # year index -> a child's DOB


@dataclass
class Adult:
    person_id: int
    relationship: str
    responsibility: bool
    lives_with: bool
    court_order: bool
    correspondence: bool


@dataclass
class Pupil:
    """What later stages (collections, meals, classes) need to know about a pupil row."""

    student_id: int
    index: int  # year group index, R = 0
    tutor_group: str
    house: str | None
    start: dt.date
    end: dt.date | None
    dob: dt.date


@dataclass
class StaffMember:
    staff_id: int
    code: str
    last_name: str
    job: str
    subject: str | None
    current: bool


@dataclass
class Ctx:
    rng: random.Random
    today: dt.date
    phase: str  # "Primary" or "Secondary"
    size: str
    town: Town
    la_code: int
    estab: int
    school_domain: str
    staff_scale: int = 1  # Size.staff_scale: secondary posts and leavers this many times over
    tables: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    households: list[Household] = field(default_factory=list)
    pupils: list[Pupil] = field(default_factory=list)
    staff: list[StaffMember] = field(default_factory=list)
    houses: list[str] = field(default_factory=list)
    tutor_groups: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    upns: set[str] = field(default_factory=set)
    next_person: int = 0
    next_collection: int = 0
    next_admission: int = 0

    @property
    def school_year(self) -> int:
        return cohorts.school_year_of(self.today)

    @property
    def year_start(self) -> dt.date:
        return dt.date(self.school_year, 9, 1)

    @property
    def year_end(self) -> dt.date:
        return dt.date(self.school_year + 1, 8, 31)

    def person_id(self) -> int:
        """A new PersonID; gaps, as records deleted in the MIS leave them."""
        self.next_person += self.rng.choice((1, 1, 1, 2, 3))
        return self.next_person

    def collection_id(self) -> int:
        self.next_collection += self.rng.choice((1, 1, 2))
        return self.next_collection

    def admission_number(self) -> str:
        # Bromcom keeps AdmissionNumber as text; many schools pad it to six digits.
        self.next_admission += 1
        return f"{self.next_admission:06d}"

    def add(self, entity: str, **row: Any) -> dict[str, Any]:
        self.tables[entity].append(row)
        return row

    def chance(self, p: float) -> bool:
        return self.rng.random() < p
