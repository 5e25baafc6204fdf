"""Collections (year, tutor, house and teaching groups), who is in them, who leads them,
SubjectClasses, and one school week of Timetable.

A teaching group is both a CLASS collection and a SubjectClasses row with the same ID, and the
Timetable refers to it by that ID.
"""

from __future__ import annotations

import datetime as dt
import math
import string
from collections import defaultdict
from collections.abc import Callable

from . import cohorts
from .context import Ctx, Pupil

ROLE_TYPES = (
    "Main Tutor",
    "Additional Tutor",
    "Teacher",
    "Head of Year",
    "Head of House",
    "Teaching Assistant",
)
# A key stage 3-4 week of 25 lessons: (subject, abbreviation, lessons a week).
LOWER_SCHOOL = (
    ("Mathematics", "Ma", 4),
    ("English", "En", 4),
    ("Science", "Sc", 3),
    ("History", "Hi", 2),
    ("Geography", "Gg", 2),
    ("French", "Fr", 2),
    ("Computing", "Co", 2),
    ("Physical Education", "PE", 2),
    ("Art", "Ar", 2),
    ("Music", "Mu", 1),
    ("Religious Education", "RE", 1),
)
# A-level subjects: (subject, abbreviation, the department whose teachers take it).
SIXTH_FORM = (
    ("Mathematics", "Ma", "Mathematics"),
    ("Biology", "Bi", "Science"),
    ("Chemistry", "Ch", "Science"),
    ("Physics", "Ph", "Science"),
    ("English Literature", "EL", "English"),
    ("History", "Hi", "History"),
    ("Psychology", "Ps", "Psychology"),
    ("Economics", "Ec", "Economics"),
)
PRIMARY_WEEK = (
    ("English", "En", tuple((d, 0) for d in range(5))),
    ("Mathematics", "Ma", tuple((d, 1) for d in range(5))),
    ("Physical Education", "PE", ((1, 2), (3, 2))),
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_SECONDARY_PERIODS = (
    ("P1", "08:50", "09:50"),
    ("P2", "09:50", "10:50"),
    ("P3", "11:10", "12:10"),
    ("P4", "12:10", "13:10"),
    ("P5", "13:55", "14:55"),
)
_PRIMARY_PERIODS = (
    ("Morning 1", "09:00", "10:30"),
    ("Morning 2", "10:45", "12:00"),
    ("Afternoon", "13:00", "15:15"),
)


def _collection(ctx: Ctx, name: str, description: str, kind: str) -> int:
    cid = ctx.collection_id()
    ctx.add(
        "Collections",
        CollectionID=cid,
        CollectionName=name,
        CollectionDescription=description,
        CollectionTypeName=kind,
        StartDate=ctx.year_start,
        EndDate=ctx.year_end,
    )
    return cid


def _executive(ctx: Ctx, staff_id: int, cid: int, role: str) -> None:
    ctx.add(
        "CollectionExecutives",
        StaffID=staff_id,
        CollectionID=cid,
        CollectionRoleTypeDescription=role,
        StartDate=ctx.year_start,
        EndDate=ctx.year_end,
    )


def _member_dates(ctx: Ctx, pupil: Pupil) -> tuple[dt.date, dt.date] | None:
    """A pupil's span in this year's groups; None for one who left before it began."""
    start, end = max(pupil.start, ctx.year_start), pupil.end or ctx.year_end
    return (start, end) if start <= end else None


def _join(ctx: Ctx, pupil: Pupil, cid: int) -> None:
    span = _member_dates(ctx, pupil)
    if span is not None:
        ctx.add(
            "CollectionAssociates",
            PersonID=pupil.student_id,
            CollectionID=cid,
            StartDate=span[0],
            EndDate=span[1],
        )


def add_groups(ctx: Ctx) -> None:
    for number, role in enumerate(ROLE_TYPES, start=1):
        ctx.add(
            "CollectionExecutivesRoleTypes",
            CollectionRoleTypeID=number,
            CollectionRoleTypeDescription=role,
        )
    current = [s for s in ctx.staff if s.current]
    secondary = ctx.phase == "Secondary"
    leaders = [s for s in current if "Head" in s.job or s.job == "Pastoral Manager"] or current
    assistants = [s for s in current if s.job == "Teaching Assistant"]
    years, tutors, houses = {}, {}, {}
    for n, index in enumerate(sorted(ctx.tutor_groups)):
        label = "Reception" if index == 0 else f"Year {index}"
        years[index] = _collection(ctx, cohorts.year_code(index), label, "YEARGRP")
        if secondary:
            _executive(ctx, leaders[n % len(leaders)].staff_id, years[index], "Head of Year")
        for name, tutor in ctx.tutor_groups[index]:
            tutors[name] = _collection(ctx, name, f"{label} tutor group {name}", "TUTORGRP")
            _executive(ctx, tutor, tutors[name], "Main Tutor")
            if not secondary and assistants:
                helper = assistants[len(tutors) % len(assistants)]
                _executive(ctx, helper.staff_id, tutors[name], "Additional Tutor")
    for n, house in enumerate(ctx.houses):
        houses[house] = _collection(ctx, house, f"{house} House", "HOUSE")
        if secondary:
            _executive(ctx, leaders[-1 - n % len(leaders)].staff_id, houses[house], "Head of House")
    for pupil in ctx.pupils:
        _join(ctx, pupil, years[pupil.index])
        _join(ctx, pupil, tutors[pupil.tutor_group])
        if pupil.house is not None:
            _join(ctx, pupil, houses[pupil.house])
    _classes(ctx)


def _classes(ctx: Ctx) -> None:
    rng = ctx.rng
    by_group: defaultdict[str, list[Pupil]] = defaultdict(list)
    for pupil in ctx.pupils:
        by_group[pupil.tutor_group].append(pupil)
    teachers: defaultdict[str, list[int]] = defaultdict(list)
    for s in ctx.staff:
        if s.current and s.subject:
            teachers[s.subject].append(s.staff_id)
    turn: defaultdict[str, int] = defaultdict(int)

    def teacher_of(subject: str, fallback: int) -> int:
        pool = teachers.get(subject)
        if not pool:
            return fallback
        turn[subject] += 1
        return pool[turn[subject] % len(pool)]

    for index in sorted(ctx.tutor_groups):
        for group, tutor in ctx.tutor_groups[index]:
            members = by_group[group]
            if ctx.phase == "Primary":
                for subject, abbr, fixed in PRIMARY_WEEK:
                    _class(ctx, f"{group}/{abbr}", subject, index, tutor, members, list(fixed))
            elif index < 12:
                free = [(d, p) for d in range(5) for p in range(5)]
                rng.shuffle(free)
                for subject, abbr, lessons in LOWER_SCHOOL:
                    slots, free = free[:lessons], free[lessons:]
                    _class(
                        ctx,
                        f"{group}/{abbr}",
                        subject,
                        index,
                        teacher_of(subject, tutor),
                        members,
                        slots,
                    )
        if index >= 12:
            _sixth_form(ctx, index, teacher_of)


def _sixth_form(ctx: Ctx, index: int, teacher_of: Callable[[str, int], int]) -> None:
    rng = ctx.rng
    choices: defaultdict[int, list[Pupil]] = defaultdict(list)
    for pupil in (p for p in ctx.pupils if p.index == index):
        for choice in rng.sample(range(len(SIXTH_FORM)), 3):
            choices[choice].append(pupil)
    for number, (subject, abbr, department) in enumerate(SIXTH_FORM):
        students = choices[number]
        classes = max(1, math.ceil(len(students) / 22))
        for c in range(classes):
            slots = rng.sample([(d, p) for d in range(5) for p in range(5)], 4)
            teacher = teacher_of(department, ctx.staff[0].staff_id)
            _class(
                ctx,
                f"{index}{_letters(c)}/{abbr}",
                subject,
                index,
                teacher,
                students[c::classes],
                slots,
            )


def _letters(number: int) -> str:
    """A sixth-form class's letters, counted from 0: A to Z, then AA, AB... (a large sixth form
    has more than 26 classes of one subject)."""
    letters = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = string.ascii_uppercase[rest] + letters
    return letters


def _class(
    ctx: Ctx,
    name: str,
    subject: str,
    index: int,
    teacher: int,
    members: list[Pupil],
    slots: list[tuple[int, int]],
) -> None:
    label = "Reception" if index == 0 else f"Year {index}"
    cid = _collection(ctx, name, f"{subject} - {label}", "CLASS")
    ctx.add(
        "SubjectClasses",
        ClassID=cid,
        ClassDescription=name,
        SubjectDescription=subject,
        StartDate=ctx.year_start,
        EndDate=ctx.year_end,
    )
    _executive(ctx, teacher, cid, "Teacher")
    for pupil in members:
        _join(ctx, pupil, cid)
    periods = _PRIMARY_PERIODS if ctx.phase == "Primary" else _SECONDARY_PERIODS
    monday = cohorts.week_of(ctx.today)
    for day, period in sorted(slots):
        period_name, begins, ends = periods[period]
        date = monday + dt.timedelta(days=day)
        ctx.add(
            "Timetable",
            ClassID=cid,
            ClassName=name,
            StaffID=teacher,
            PeriodStartDate=dt.datetime.combine(date, dt.time.fromisoformat(begins)),
            PeriodEndDate=dt.datetime.combine(date, dt.time.fromisoformat(ends)),
            DayOfWeek=_DAYS[day],
            PeriodName=period_name,
            LocationName=_room(ctx, subject, name),
        )


def _room(ctx: Ctx, subject: str, name: str) -> str:
    if subject == "Physical Education":
        return "Sports Hall" if ctx.phase == "Secondary" else "Hall"
    if ctx.phase == "Primary":
        return f"Class {name.split('/')[0]}"
    # Rooms are fixed per class, so the same lesson is always in the same room.
    number = sum(map(ord, name)) % 12 + 1
    if subject in ("Science", "Biology", "Chemistry", "Physics"):
        return f"S{number} Lab"
    return f"{subject[:1]}{number}"
