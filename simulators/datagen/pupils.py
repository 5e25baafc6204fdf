"""Pupils on roll (Students, StudentEnrolments) and next year's applicants (PreAdmissionStudents).

A pupil's StudentID is their PersonID (docs/bromcom.md), and each has a People row. Dates of birth
always fall in their year group's 1 September - 31 August cohort for today's school year.
"""

from __future__ import annotations

import datetime as dt

from . import cohorts, names, pools
from .context import Ctx, Household, Pupil
from .households import address_rows, link_contacts, nationality_rows, new_household, people_row

_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # A-Z without I, O and S: 23 of them


def upn_check_letter(body: str) -> str:
    """The DfE check letter of a UPN's 12 digits: weights 2..13, sum mod 23."""
    return _CHECK_LETTERS[sum(int(c) * w for w, c in enumerate(body, start=2)) % 23]


def new_upn(ctx: Ctx, la_code: int, estab: int, year: int) -> str:
    """A UPN as allocated by school `la_code`/`estab` in `year`: check letter + 12 digits."""
    while True:
        body = f"{la_code:03d}{estab:04d}{year % 100:02d}{ctx.rng.randrange(1000):03d}"
        upn = upn_check_letter(body) + body
        if upn not in ctx.upns:
            ctx.upns.add(upn)
            return upn


def _origin(ctx: Ctx, joined_here_at_entry: bool) -> tuple[int, int]:
    """Where a pupil's UPN was allocated: here, a feeder school nearby, or another area."""
    if joined_here_at_entry and ctx.phase == "Primary" and ctx.chance(0.7):
        return ctx.la_code, ctx.estab
    if ctx.chance(0.9):
        return ctx.la_code, 2000 + ctx.rng.randrange(400)
    return ctx.rng.choice(pools.TOWNS).la_code, 2000 + ctx.rng.randrange(900)


def _household(ctx: Ctx, sibling_chance: float, forced: dict[str, int]) -> Household:
    """A sibling's family now and then, else a new one; `forced` maps an awkward case that
    must occur at least once to the ordinal of the new household that gets it."""
    if ctx.households and ctx.chance(sibling_chance):
        household = ctx.rng.choice(ctx.households[-300:])
        if len(household.children) < 4:
            return household
    ordinal = len(ctx.households)
    return new_household(
        ctx,
        court_order=forced.get("court_order") == ordinal,
        bad_mobile=forced.get("bad_mobile") == ordinal,
    )


def _names(
    ctx: Ctx,
    household: Household,
    gender: str,
    long_name: bool,
) -> tuple[str, str | None, str, str | None, str | None]:
    """(first, middle, last, preferred first, preferred last) of a child of `household`."""
    rng = ctx.rng
    heritage = household.heritage
    first = names.child_first_name(rng, heritage, gender)
    middle = names.middle_names(rng, heritage, gender, first)
    last = names.gendered_surname(household.surname, gender)
    if long_name:
        middle = rng.choice(pools.LONG_MIDDLES)
        last = rng.choice(pools.LONG_SURNAMES)
    preferred_last = rng.choice(heritage.surnames) if ctx.chance(0.03) else None
    return first, middle, last, names.preferred_first(rng, first, gender, 0.1), preferred_last


def _gender(ctx: Ctx) -> str:
    return "X" if ctx.chance(0.007) else ctx.rng.choice("MF")


def _dates(ctx: Ctx, index: int) -> tuple[dt.date, dt.date | None, str]:
    """(StartDate, EndDate, EnrolmentStatus): most joined at the school's entry year."""
    rng, today = ctx.rng, ctx.today
    entry = 0 if ctx.phase == "Primary" else (12 if index >= 12 and ctx.chance(0.3) else 7)
    entry_year = ctx.school_year - max(index - entry, 0)
    start = cohorts.first_day(entry_year)
    if index > entry and ctx.chance(0.08):
        start = cohorts.random_day(rng, start + dt.timedelta(days=20), today - dt.timedelta(1))
    end: dt.date | None = None
    status = "C"
    r = rng.random()
    if r < 0.012:
        status = "M"
    elif r < 0.024:
        # A subsidiary registration: on roll here part-time this year, mainly elsewhere.
        status = "S"
        start = cohorts.random_day(rng, ctx.year_start, today)
    elif r < 0.03:
        status = "G"
        start = cohorts.random_day(rng, ctx.year_start, today)
    r = rng.random()
    if r < 0.015 and start < today - dt.timedelta(days=2):
        end = cohorts.random_day(
            rng, max(start + dt.timedelta(1), today - dt.timedelta(150)), today - dt.timedelta(1)
        )
    elif r < 0.025 and today + dt.timedelta(3) < ctx.year_end:
        # Joining later this school year; after 31 August they would be in the next year group.
        latest = min(today + dt.timedelta(45), ctx.year_end - dt.timedelta(1))
        start = cohorts.random_day(rng, today + dt.timedelta(1), latest)
    elif r < 0.03:
        end = cohorts.random_day(rng, today + dt.timedelta(1), today + dt.timedelta(60))
    return start, end, status


def add_pupils(ctx: Ctx, counts: dict[int, int]) -> None:
    """`counts[index]` pupils in each year group, oldest first (their IDs are older too)."""
    rng = ctx.rng
    awkward = ctx.size != "tiny"  # a tiny school is for quick tests: no forced oddities
    long_at = rng.randrange(sum(counts.values())) if awkward else -1
    forced = {"court_order": rng.randrange(40), "bad_mobile": rng.randrange(40)} if awkward else {}
    number = 0
    for index in sorted(counts, reverse=True):
        groups = ctx.tutor_groups[index]
        for k in range(counts[index]):
            household = _household(ctx, 0.24, forced)
            _add_pupil(ctx, index, groups[k % len(groups)][0], household, number == long_at)
            number += 1


def _add_pupil(
    ctx: Ctx, index: int, tutor_group: str, household: Household, long_name: bool
) -> None:
    rng = ctx.rng
    gender = _gender(ctx)
    first, middle, last, pref_first, pref_last = _names(ctx, household, gender, long_name)
    twin = household.births.get(index)
    dob = twin if twin is not None else cohorts.random_dob(rng, index, ctx.school_year)
    start, end, status = _dates(ctx, index)
    la_code, estab = _origin(ctx, start == cohorts.first_day(ctx.school_year - index))
    upn = None
    if not ctx.chance(0.004):  # a pupil without a UPN is rare but real
        upn = new_upn(ctx, la_code, estab, ctx.school_year - index)
    student_id = ctx.person_id()
    consent = ctx.chance(0.94)
    ctx.add(
        "Students", StudentID=student_id, PersonID=student_id, UPN=upn,
        AdmissionNumber=ctx.admission_number(), FirstName=first, MiddleName=middle,
        LastName=last, PreferredFirstName=pref_first, PreferredLastName=pref_last,
        DateOfBirth=dob, Gender=gender, YearGroup=cohorts.year_code(index),
        TutorGroup=tutor_group, House=household.house, StartDate=start, EndDate=end,
        EnrolmentStatus=status, DataProcessingConsent=consent,
    )  # fmt: skip
    ctx.add("StudentEnrolments", StudentID=student_id, EnrolmentStatus=status,
            StartDate=start, EndDate=end)  # fmt: skip
    people_row(
        ctx, student_id, first=first, middle=middle, last=last, preferred_first=pref_first,
        preferred_last=pref_last, dob=dob, gender=gender, consent=consent,
    )  # fmt: skip
    household.children.append(student_id)
    household.births.setdefault(index, dob)
    link_contacts(ctx, student_id, household, start)
    address_rows(ctx, student_id, household)
    nationality_rows(ctx, student_id, household.heritage)
    ctx.pupils.append(Pupil(student_id, index, tutor_group, household.house, start, end, dob))


_STATUSES = ("Accepted", "Offered", "Applied", "Admitted", "Withdrawn")
_STATUS_WEIGHTS = (60, 15, 12, 5, 8)


def add_preadmissions(ctx: Ctx, count: int) -> None:
    """Applicants for next September's Reception (primary) or Year 7 (secondary)."""
    rng = ctx.rng
    index = 0 if ctx.phase == "Primary" else 7
    next_year = ctx.school_year + 1
    admission = cohorts.first_day(next_year)
    upn_share = 0.3 if index == 0 else 0.9  # secondary applicants already have one
    for _ in range(count):
        household = _household(ctx, 0.35, {})  # siblings get priority in admissions
        gender = _gender(ctx)
        first, middle, last, pref_first, pref_last = _names(ctx, household, gender, False)
        dob = cohorts.random_dob(rng, index, next_year)
        status = rng.choices(_STATUSES, weights=_STATUS_WEIGHTS)[0]
        upn = None
        if ctx.chance(upn_share):
            allocated = next_year - index if index else ctx.school_year  # in nursery, or Reception
            upn = new_upn(ctx, ctx.la_code, 2000 + rng.randrange(400), allocated)
        number = None
        if status in ("Accepted", "Admitted") and ctx.chance(0.5):
            number = ctx.admission_number()
        student_id = ctx.person_id()
        consent = ctx.chance(0.9)
        ctx.add(
            "PreAdmissionStudents",
            StudentID=student_id,
            PersonID=student_id,
            UPN=upn,
            AdmissionNumber=number,
            FirstName=first,
            LastName=last,
            PreferredFirstName=pref_first,
            PreferredLastName=pref_last,
            DateOfBirth=dob,
            Gender=gender,
            YearGroup=cohorts.year_code(index),
            AdmissionDate=admission,
            ApplicationStatus=status,
            DataProcessingConsent=consent,
        )
        people_row(
            ctx,
            student_id,
            first=first,
            middle=middle,
            last=last,
            preferred_first=pref_first,
            preferred_last=pref_last,
            dob=dob,
            gender=gender,
            consent=consent,
        )
        household.children.append(student_id)
        link_contacts(ctx, student_id, household, None)
        address_rows(ctx, student_id, household)
        nationality_rows(ctx, student_id, household.heritage)
