"""Families: the contacts of pupils and pre-admissions, their links, addresses and details.

Siblings share one Household, so they share contact PersonIDs, which is how real MIS data
looks and what a payer rule keyed on the contact must cope with.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import names, pools
from .context import Adult, Ctx, Household


def people_row(
    ctx: Ctx,
    person_id: int,
    *,
    first: str,
    last: str,
    gender: str,
    consent: bool,
    title: str | None = None,
    middle: str | None = None,
    preferred_first: str | None = None,
    preferred_last: str | None = None,
    dob: dt.date | None = None,
) -> dict[str, Any]:
    return ctx.add(
        "People",
        PersonID=person_id,
        Title=title,
        FirstName=first,
        MiddleName=middle,
        LastName=last,
        PreferredFirstName=preferred_first,
        PreferredLastName=preferred_last,
        DateOfBirth=dob,
        Gender=gender,
        DataProcessingConsent=consent,
    )


def address_rows(ctx: Ctx, person_id: int, household: Household) -> None:
    if household.previous is not None and household.moved_on is not None:
        _address(ctx, person_id, household.previous, None, household.moved_on - dt.timedelta(1))
    _address(ctx, person_id, household.address, household.moved_on, None)


def _address(
    ctx: Ctx,
    person_id: int,
    where: tuple[str, str, str, str],
    start: dt.date | None,
    end: dt.date | None,
) -> None:
    number, street, town, postcode = where
    ctx.add(
        "PersonAddress",
        PersonID=person_id,
        AddressTypeDescription="Home",
        HouseNumber=number,
        Street=street,
        Town=town,
        PostCode=postcode,
        StartDate=start,
        EndDate=end,
    )


def nationality_rows(ctx: Ctx, person_id: int, heritage: pools.Heritage) -> None:
    r = ctx.rng.random()
    if r < 0.02:
        ctx.add("Nationalities", PersonID=person_id, NationalityDescription="Not Known")
        return
    foreign = heritage.nationalities
    if not foreign or r < 0.6:
        found = ["British"]
    elif r < 0.9:
        found = [ctx.rng.choice(foreign)]
    else:
        found = ["British", ctx.rng.choice(foreign)]  # dual nationality: two rows
    for nationality in found:
        ctx.add("Nationalities", PersonID=person_id, NationalityDescription=nationality)


def contact_details(ctx: Ctx, person_id: int, first: str, last: str, *, bad: bool = False) -> None:
    """E-mails and phones of a contact; some have none of one or the other."""
    rng = ctx.rng
    if ctx.chance(0.88):
        email = names.email_address(rng, first, last)
        ctx.add(
            "Emails",
            PersonID=person_id,
            EmailAddress=email,
            EmailTypeDescription="Home",
            Priority=1,
        )
        if ctx.chance(0.15):
            work = f"{names.ascii_fold(first)}.{names.ascii_fold(last)}@work.example.com"
            ctx.add(
                "Emails",
                PersonID=person_id,
                EmailAddress=work,
                EmailTypeDescription="Work",
                Priority=2,
            )
    priority = 1
    if bad or ctx.chance(0.92):
        value = names.bad_mobile(rng) if bad else names.mobile(rng)
        ctx.add(
            "PersonCommunications",
            PersonID=person_id,
            CommunicationTypeDescription="Mobile",
            Value=value,
            Priority=priority,
        )
        priority += 1
        if ctx.chance(0.03):
            ctx.add(
                "PersonCommunications",
                PersonID=person_id,
                CommunicationTypeDescription="Mobile",
                Value=names.mobile(rng),
                Priority=priority,
            )
            priority += 1
    if ctx.chance(0.25):
        ctx.add(
            "PersonCommunications",
            PersonID=person_id,
            CommunicationTypeDescription="Home Telephone",
            Value=names.landline(rng, ctx.town),
            Priority=priority,
        )
        priority += 1
    if ctx.chance(0.15):
        ctx.add(
            "PersonCommunications",
            PersonID=person_id,
            CommunicationTypeDescription="Work Telephone",
            Value=names.landline(rng, ctx.town),
            Priority=priority,
        )


def new_adult(
    ctx: Ctx,
    household: Household,
    *,
    gender: str,
    relationship: str,
    surname: str,
    responsibility: bool,
    lives_with: bool,
    court_order: bool = False,
    bad_mobile: bool = False,
) -> Adult:
    rng = ctx.rng
    elder = relationship == "Grandparent"
    heritage = household.heritage
    first = names.adult_first_name(rng, heritage, gender, elder)
    last = names.gendered_surname(surname, gender)
    person_id = ctx.person_id()
    age = rng.randint(55, 78) if elder else rng.randint(23, 55)
    dob = None
    if ctx.chance(0.3):
        dob = dt.date(ctx.today.year - age, rng.randint(1, 12), rng.randint(1, 28))
    people_row(
        ctx,
        person_id,
        title=names.title_for(rng, gender),
        first=first,
        last=last,
        middle=names.child_first_name(rng, heritage, gender) if ctx.chance(0.1) else None,
        preferred_first=names.preferred_first(rng, first, gender, 0.03),
        gender=gender,
        dob=dob,
        consent=ctx.chance(0.92),
    )
    contact_details(ctx, person_id, first, last, bad=bad_mobile)
    if lives_with:
        address_rows(ctx, person_id, household)
    else:
        _address(ctx, person_id, names.address(rng, ctx.town), None, None)
    return Adult(
        person_id,
        relationship,
        responsibility,
        lives_with,
        court_order,
        correspondence=responsibility and (lives_with or ctx.chance(0.5)),
    )


def new_household(ctx: Ctx, *, court_order: bool = False, bad_mobile: bool = False) -> Household:
    """A family with its adults; `court_order` forces the awkward payer case (see below)."""
    rng = ctx.rng
    heritage = names.pick_heritage(rng)
    surname = rng.choice(heritage.surnames)
    if ctx.chance(0.04):
        surname = f"{surname}-{rng.choice(heritage.surnames)}"  # double-barrelled
    house = rng.choice(ctx.houses) if ctx.houses else None
    household = Household(heritage, surname, names.address(rng, ctx.town), house)
    if ctx.chance(0.08):
        household.previous = names.address(rng, ctx.town)
        household.moved_on = ctx.today - dt.timedelta(days=rng.randint(30, 2000))

    def adult(
        gender: str,
        relationship: str,
        responsibility: bool = True,
        lives_with: bool = True,
        court: bool = False,
        other_name: bool = False,
    ) -> None:
        name = rng.choice(heritage.surnames) if other_name else surname.split("-")[0]
        household.adults.append(
            new_adult(
                ctx,
                household,
                gender=gender,
                relationship=relationship,
                surname=name,
                responsibility=responsibility,
                lives_with=lives_with,
                court_order=court,
                bad_mobile=bad_mobile and not household.adults,
            )
        )

    r = 0.85 if court_order else rng.random()
    if r < 0.62:
        mother_first = ctx.chance(0.75)
        pair = [("F", "Mother"), ("M", "Father")] if ctx.chance(0.99) else [("F", "Mother")] * 2
        for gender, relation in pair if mother_first else pair[::-1]:
            adult(gender, relation, other_name=relation == "Father" and ctx.chance(0.12))
    elif r < 0.8:
        adult("F", "Mother")
    elif r < 0.84:
        adult("M", "Father")
    elif r < 0.91:
        # Separated parents; a court order is on the parent who does not live with the
        # child, and now and then that parent was left as priority 1 (the payer rule's trap).
        court = court_order or ctx.chance(0.15)
        away_first = court and (court_order or ctx.chance(0.35))
        if not away_first:
            adult("F", "Mother")
        adult("M", "Father", lives_with=False, court=court, other_name=ctx.chance(0.3))
        if away_first:
            adult("F", "Mother")
    elif r < 0.96:
        # Foster carers hold no parental responsibility (the local authority does);
        # kinship carers with a special guardianship order do.
        holds = ctx.chance(0.5)
        adult(rng.choice("FM"), "Carer", responsibility=holds, other_name=True)
        if ctx.chance(0.5):
            adult(rng.choice("FM"), "Carer", responsibility=holds, other_name=True)
    else:
        adult("F", "Grandparent", responsibility=ctx.chance(0.6))
        if ctx.chance(0.5):
            adult("F", "Mother", responsibility=True, lives_with=False)
    if ctx.chance(0.12):
        adult(rng.choice("FM"), "Grandparent", responsibility=False, lives_with=False)
    if ctx.chance(0.03):
        adult(rng.choice("FM"), "Other", responsibility=False, lives_with=False, other_name=True)
    ctx.households.append(household)
    return household


def link_contacts(ctx: Ctx, student_id: int, household: Household, start: dt.date | None) -> None:
    """StudentContacts rows for one pupil, in the household's priority order."""
    link_start = start if ctx.chance(0.7) else None
    for priority, adult in enumerate(household.adults, start=1):
        ctx.add(
            "StudentContacts",
            StudentID=student_id,
            ContactPersonID=adult.person_id,
            Relationship=adult.relationship,
            ParentalResponsibility=adult.responsibility,
            Priority=priority,
            LivesWithStudent=adult.lives_with,
            ReceivesCorrespondence=adult.correspondence,
            CourtOrder=adult.court_order,
            StartDate=link_start,
            EndDate=None,
        )
    if start is not None and start < ctx.today - dt.timedelta(days=60) and ctx.chance(0.02):
        # A former childminder: the link has ended but the row stays in Bromcom.
        former = new_adult(
            ctx,
            household,
            gender="F",
            relationship="Other",
            surname=ctx.rng.choice(household.heritage.surnames),
            responsibility=False,
            lives_with=False,
        )
        ended = start + dt.timedelta(days=ctx.rng.randint(1, (ctx.today - start).days - 1))
        ctx.add(
            "StudentContacts",
            StudentID=student_id,
            ContactPersonID=former.person_id,
            Relationship="Other",
            ParentalResponsibility=False,
            Priority=len(household.adults) + 1,
            LivesWithStudent=False,
            ReceivesCorrespondence=False,
            CourtOrder=False,
            StartDate=start,
            EndDate=ended,
        )
