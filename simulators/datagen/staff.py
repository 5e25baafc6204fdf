"""Staff (with their People, e-mails, phones and EmployeeContacts), tutor groups and houses.

A StaffID is that person's PersonID (docs/bromcom.md). Staff are generated first, so their IDs are
the oldest, and a few have left (EndDate in the past) but are still in the entity.
"""

from __future__ import annotations

import datetime as dt

from . import cohorts, names, pools
from .context import Ctx, StaffMember
from .households import nationality_rows, people_row

PRIMARY_ROLES = (
    ("Headteacher", 1),
    ("Deputy Headteacher", 1),
    ("Class Teacher", 7),
    ("Teaching Assistant", 7),
    ("SENCo", 1),
    ("School Business Manager", 1),
    ("Office Administrator", 2),
    ("Site Manager", 1),
    ("Cook", 1),
    ("Kitchen Assistant", 1),
    ("Midday Supervisor", 2),
)
TINY_ROLES = (("Headteacher", 1), ("Class Teacher", 2), ("Office Administrator", 1))
# (subject, teachers); the first of each is its head of department.
SUBJECT_TEACHERS = (
    ("Mathematics", 14),
    ("English", 14),
    ("Science", 16),
    ("History", 6),
    ("Geography", 6),
    ("French", 5),
    ("Spanish", 3),
    ("Computing", 5),
    ("Physical Education", 8),
    ("Art", 4),
    ("Music", 3),
    ("Drama", 3),
    ("Religious Education", 4),
    ("Psychology", 2),
    ("Economics", 2),
    ("Design and Technology", 4),
)
SECONDARY_ROLES = (
    ("Headteacher", 1),
    ("Deputy Headteacher", 2),
    ("Assistant Headteacher", 4),
    ("Teaching Assistant", 18),
    ("Cover Supervisor", 4),
    ("SENCo", 1),
    ("Exams Officer", 1),
    ("Data Manager", 1),
    ("Finance Officer", 2),
    ("Receptionist", 2),
    ("Attendance Officer", 2),
    ("Pastoral Manager", 5),
    ("Librarian", 1),
    ("IT Technician", 3),
    ("Science Technician", 3),
    ("Site Manager", 1),
    ("Caretaker", 3),
    ("Catering Manager", 1),
    ("Catering Assistant", 6),
    ("Cleaner", 6),
    ("School Business Manager", 1),
    ("HR Officer", 1),
    ("PA to the Headteacher", 1),
)
_EMERGENCY = ("Spouse", "Partner", "Mother", "Father", "Sibling", "Friend")
_PRIMARY_HOUSES = (("Oak", "Ash", "Beech", "Willow"), ("Red", "Blue", "Green", "Yellow"))
_SECONDARY_HOUSES = (
    "Brunel",
    "Curie",
    "Darwin",
    "Franklin",
    "Nightingale",
    "Turing",
    "Seacole",
    "Attenborough",
)


def _roles(ctx: Ctx) -> list[tuple[str, str | None]]:
    """(JobTitle, teaching subject) for every post, plus a few extra posts."""
    rng = ctx.rng
    extra: list[tuple[str, str | None]] = [("Teaching Assistant", None)]
    if ctx.size == "tiny":
        return [(job, None) for job, n in TINY_ROLES for _ in range(n)]
    if ctx.phase == "Primary":
        posts: list[tuple[str, str | None]] = [
            (job, None) for job, n in PRIMARY_ROLES for _ in range(n)
        ]
        return posts + extra * rng.randint(0, 2)
    scale = ctx.staff_scale
    posts = [(job, None) for job, n in SECONDARY_ROLES for _ in range(n * scale)]
    for subject, n in SUBJECT_TEACHERS:
        posts += [(f"Head of {subject}", subject)] * scale
        posts += [(f"Teacher of {subject}", subject)] * ((n - 1) * scale)
    return posts + extra * (rng.randint(0, 6) * scale)


def _code(first: str, last: str, used: set[str]) -> str:
    """Staff initials, lengthened or numbered until unique ("KT", "KTA", "KT2")."""
    f, s = names.ascii_fold(first).upper() or "X", names.ascii_fold(last).upper() or "X"
    candidates = [f[0] + s[0], f[0] + s[:2], f[:2] + s[0], f[0] + s[0] + s[-1]]
    candidates += [f"{f[0]}{s[0]}{n}" for n in range(2, 100)]
    code = next(c for c in candidates if c not in used)
    used.add(code)
    return code


def add_staff(ctx: Ctx) -> None:
    rng, today = ctx.rng, ctx.today
    posts = _roles(ctx)
    leavers = (
        0
        if ctx.size == "tiny"
        else rng.randint(1, 2)
        if ctx.phase == "Primary"
        else rng.randint(4, 8) * ctx.staff_scale
    )
    leaving_jobs = ["Teaching Assistant", "Midday Supervisor", "Class Teacher"]
    if ctx.phase == "Secondary":
        leaving_jobs = ["Teaching Assistant", "Teacher of Mathematics", "Cleaner"]
    posts += [(rng.choice(leaving_jobs), None) for _ in range(leavers)]  # they will have left
    used: set[str] = set()
    for number, (job, subject) in enumerate(posts):
        leaver = number >= len(posts) - leavers
        heritage = names.pick_heritage(rng)
        gender = "X" if ctx.chance(0.005) else rng.choice("MF")
        first = names.adult_first_name(rng, heritage, gender, elder=False)
        last = names.gendered_surname(rng.choice(heritage.surnames), gender)
        middle = names.middle_names(rng, heritage, gender, first)
        preferred = names.preferred_first(rng, first, gender, 0.05)
        title = names.title_for(rng, gender)
        code = _code(first, last, used)
        years = rng.randint(0, 20) if job != "Headteacher" else rng.randint(2, 12)
        start = cohorts.first_day(ctx.school_year - years)
        if ctx.chance(0.2):
            start = cohorts.random_day(rng, start, min(today, start + dt.timedelta(300)))
        end = None
        if leaver:
            start = cohorts.first_day(ctx.school_year - rng.randint(2, 10))
            end = cohorts.random_day(rng, today - dt.timedelta(400), today - dt.timedelta(1))
        staff_id = ctx.person_id()
        consent = ctx.chance(0.95)
        ctx.add(
            "Staff",
            StaffID=staff_id,
            PersonID=staff_id,
            Title=title,
            FirstName=first,
            MiddleName=middle,
            LastName=last,
            PreferredFirstName=preferred,
            PreferredLastName=None,
            StaffCode=code,
            JobTitle=job,
            StartDate=start,
            EndDate=end,
            DataProcessingConsent=consent,
        )
        dob = dt.date(today.year - rng.randint(22, 64), rng.randint(1, 12), rng.randint(1, 28))
        people_row(
            ctx,
            staff_id,
            title=title,
            first=first,
            middle=middle,
            last=last,
            preferred_first=preferred,
            dob=dob,
            gender=gender,
            consent=consent,
        )
        _details(ctx, staff_id, first, last)
        nationality_rows(ctx, staff_id, heritage)
        number_, street, town, postcode = names.address(rng, ctx.town)
        ctx.add(
            "PersonAddress",
            PersonID=staff_id,
            AddressTypeDescription="Home",
            HouseNumber=number_,
            Street=street,
            Town=town,
            PostCode=postcode,
        )
        _emergency_contacts(ctx, staff_id, heritage, last)
        ctx.staff.append(StaffMember(staff_id, code, last, job, subject, current=end is None))


def _details(ctx: Ctx, staff_id: int, first: str, last: str) -> None:
    work = f"{names.ascii_fold(first)[:1]}.{names.ascii_fold(last)}@{ctx.school_domain}"
    ctx.add("Emails", PersonID=staff_id, EmailAddress=work, EmailTypeDescription="Work", Priority=1)
    if ctx.chance(0.3):
        ctx.add(
            "Emails",
            PersonID=staff_id,
            EmailAddress=names.email_address(ctx.rng, first, last),
            EmailTypeDescription="Home",
            Priority=2,
        )
    if ctx.chance(0.8):
        ctx.add(
            "PersonCommunications",
            PersonID=staff_id,
            CommunicationTypeDescription="Mobile",
            Value=names.mobile(ctx.rng),
            Priority=1,
        )


def _emergency_contacts(ctx: Ctx, staff_id: int, heritage: pools.Heritage, last: str) -> None:
    rng = ctx.rng
    wanted = 0 if not ctx.chance(0.75) else 2 if ctx.chance(0.25) else 1
    for priority in range(1, wanted + 1):
        gender = rng.choice("MF")
        relationship = rng.choice(_EMERGENCY)
        person_id = ctx.person_id()
        first = names.adult_first_name(
            rng, heritage, gender, elder=relationship in ("Mother", "Father")
        )
        surname = last if relationship != "Friend" else rng.choice(heritage.surnames)
        people_row(
            ctx,
            person_id,
            title=names.title_for(rng, gender),
            first=first,
            last=names.gendered_surname(surname, gender),
            gender=gender,
            consent=ctx.chance(0.9),
        )
        ctx.add(
            "PersonCommunications",
            PersonID=person_id,
            CommunicationTypeDescription="Mobile",
            Value=names.mobile(rng),
            Priority=1,
        )
        ctx.add(
            "EmployeeContacts",
            StaffID=staff_id,
            ContactPersonID=person_id,
            Relationship=relationship,
            Priority=priority,
        )


def plan_groups(ctx: Ctx, counts: dict[int, int]) -> None:
    """Houses, and each year group's tutor groups named after their tutor ("3B", "7KT")."""
    rng = ctx.rng
    if ctx.phase == "Primary":
        ctx.houses = list(rng.choice(_PRIMARY_HOUSES)[: 2 if ctx.size == "tiny" else 4])
    else:
        ctx.houses = sorted(rng.sample(_SECONDARY_HOUSES, rng.randint(4, 6)))
    current = [s for s in ctx.staff if s.current]
    if ctx.phase == "Primary":
        teachers = [s for s in current if s.job == "Class Teacher"] or current
        for index in sorted(counts):
            tutor = teachers[index % len(teachers)]
            initial = names.ascii_fold(tutor.last_name)[:1].upper() or "A"
            ctx.tutor_groups[index] = [(f"{cohorts.year_code(index)}{initial}", tutor.staff_id)]
        return
    teachers = [s for s in current if s.subject is not None]
    rng.shuffle(teachers)
    next_tutor = 0
    for index in sorted(counts):
        size = 30 if index < 12 else 20
        groups = []
        for _ in range(max(1, round(counts[index] / size))):
            tutor = teachers[next_tutor % len(teachers)]
            next_tutor += 1
            groups.append((f"{cohorts.year_code(index)}{tutor.code}", tutor.staff_id))
        ctx.tutor_groups[index] = groups
