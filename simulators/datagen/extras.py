"""Free-meal periods, meal patterns and medical conditions.

FSM end dates are often missing in real data (docs/rules.md), so most open periods have none;
some periods ended, and some pupils had a break and a new period. Medical descriptions carry
the spelling drift of hand-typed data ("Nut allergy" beside "Nut Allergy").
"""

from __future__ import annotations

import datetime as dt

from . import cohorts
from .context import Ctx, Pupil

CONDITIONS = (
    ("Asthma", 30, "Inhaler kept in the classroom"),
    ("Nut Allergy", 12, "Carries an adrenaline pen"),
    ("Peanut Allergy", 5, "Adrenaline pens in the school office"),
    ("Eczema", 10, None),
    ("Egg Allergy", 5, None),
    ("Coeliac Disease", 4, "Gluten-free diet"),
    ("Lactose Intolerance", 6, "No milk; soya alternative"),
    ("Diabetes Type 1", 3, "Insulin pump; snacks allowed in class"),
    ("Epilepsy", 3, "Care plan on file"),
    ("Dairy Allergy", 5, None),
    ("Sesame Allergy", 2, None),
    ("Hay Fever", 9, None),
)
_WEIGHTS = [c[1] for c in CONDITIONS]
_MEALS = ("School Meal", "Packed Lunch", "Home Lunch")


def add_extras(ctx: Ctx) -> None:
    for pupil in ctx.pupils:
        if ctx.chance(0.2 if ctx.phase == "Primary" else 0.25):
            _fsm(ctx, pupil.student_id, max(pupil.start, ctx.today - dt.timedelta(1500)))
        if ctx.chance(0.7 if ctx.phase == "Primary" else 0.3):
            _pattern(ctx, pupil)
        if ctx.chance(0.12):
            _conditions(ctx, pupil.student_id, pupil.dob)
    for row in ctx.tables["PreAdmissionStudents"]:
        if ctx.chance(0.05):  # early-years free meals already recorded before they join
            _fsm(ctx, row["StudentID"], ctx.today - dt.timedelta(400))
        if ctx.chance(0.08):
            _conditions(ctx, row["StudentID"], row["DateOfBirth"])
    for member in ctx.staff:
        if ctx.chance(0.04):
            _conditions(ctx, member.staff_id, ctx.today - dt.timedelta(days=365 * 30))


def _fsm(ctx: Ctx, student_id: int, earliest: dt.date) -> None:
    rng, today = ctx.rng, ctx.today
    start = cohorts.random_day(rng, earliest, today)
    r = rng.random()
    end = None
    if r < 0.15:
        end = cohorts.random_day(rng, today + dt.timedelta(1), today + dt.timedelta(300))
    elif r < 0.45 and start < today - dt.timedelta(60):
        end = cohorts.random_day(rng, start + dt.timedelta(30), today - dt.timedelta(1))
    ctx.add("StudentMeals", StudentID=student_id, FSMType="FSM", StartDate=start, EndDate=end)
    if end is not None and end < today - dt.timedelta(20) and ctx.chance(0.3):
        again = cohorts.random_day(rng, end + dt.timedelta(14), today)
        ctx.add("StudentMeals", StudentID=student_id, FSMType="FSM", StartDate=again, EndDate=None)


def _pattern(ctx: Ctx, pupil: Pupil) -> None:
    if pupil.end is not None and pupil.end < ctx.year_start:
        return
    rng = ctx.rng
    meal = rng.choices(_MEALS, weights=(60, 30, 10))[0]
    days = [True] * 5 if ctx.chance(0.8) else [ctx.chance(0.5) for _ in range(5)]
    ctx.add(
        "StudentMealPatterns",
        StudentID=pupil.student_id,
        MealTypeDescription=meal,
        Monday=days[0],
        Tuesday=days[1],
        Wednesday=days[2],
        Thursday=days[3],
        Friday=days[4],
        StartDate=max(pupil.start, ctx.year_start),
        EndDate=pupil.end,
    )
    if pupil.start < ctx.year_start - dt.timedelta(300) and ctx.chance(0.1):
        ctx.add(
            "StudentMealPatterns",
            StudentID=pupil.student_id,
            MealTypeDescription=rng.choice(_MEALS),
            Monday=True,
            Tuesday=True,
            Wednesday=True,
            Thursday=True,
            Friday=True,
            StartDate=dt.date(ctx.school_year - 1, 9, 1),
            EndDate=dt.date(ctx.school_year, 7, 20),
        )


def _conditions(ctx: Ctx, person_id: int, born: dt.date) -> None:
    rng, today = ctx.rng, ctx.today
    picked = rng.choices(CONDITIONS, weights=_WEIGHTS, k=2 if ctx.chance(0.2) else 1)
    for description, _, note in dict.fromkeys(picked):
        if description == "Nut Allergy" and ctx.chance(0.15):
            description = rng.choice(("Nut allergy", "nut allergy", "NUT ALLERGY"))
        start = cohorts.random_day(rng, born, today) if ctx.chance(0.5) else None
        end = None
        if ctx.chance(0.08) and (start or born) < today - dt.timedelta(2):
            # Outgrown (egg allergies often are) or resolved; the row stays, with an end.
            end = cohorts.random_day(rng, (start or born) + dt.timedelta(1), today)
            end = min(end, today - dt.timedelta(1))
        ctx.add(
            "PersonMedicalConditions",
            PersonID=person_id,
            MedicalConditionDescription=description,
            Notes=note if ctx.chance(0.6) else None,
            StartDate=start,
            EndDate=end,
        )
