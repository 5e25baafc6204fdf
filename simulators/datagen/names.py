"""Names, titles, addresses, e-mails and phone numbers drawn from the pools (pools.py).

Families share a heritage so that a child's names fit their parents'. Phone numbers are in
Ofcom's drama ranges and e-mail domains are example.com/.org/.net, so nothing generated
reaches anyone.
"""

from __future__ import annotations

import random
import re
import unicodedata

from .pools import (
    ADULT_MEN,
    ADULT_WOMEN,
    ELDER_MEN,
    ELDER_WOMEN,
    HERITAGE_WEIGHTS,
    HERITAGES,
    HOUSE_NAMES,
    INWARD_LETTERS,
    NICKNAMES,
    PLACES,
    SAINTS,
    STREET_KINDS,
    STREET_NAMES,
    UNISEX,
    Heritage,
    Town,
)


def pick_heritage(rng: random.Random) -> Heritage:
    return rng.choices(HERITAGES, weights=HERITAGE_WEIGHTS)[0]


def gendered_surname(surname: str, gender: str) -> str:
    """Polish surnames agree with gender (Kowalski, Kowalska), as do Sikh ones (Singh, Kaur)."""
    if gender == "F" and surname == "Singh":
        return "Kaur"
    if gender == "M" and surname == "Kaur":
        return "Singh"
    if gender == "F":
        for male, female in (("ski", "ska"), ("cki", "cka")):
            if surname.endswith(male):
                return surname[: -len(male)] + female
    return surname


def child_first_name(rng: random.Random, heritage: Heritage, gender: str) -> str:
    if gender == "X":
        return rng.choice(UNISEX)
    return rng.choice(heritage.boys if gender == "M" else heritage.girls)


def adult_first_name(rng: random.Random, heritage: Heritage, gender: str, elder: bool) -> str:
    if heritage.name == "british" and gender in ("M", "F"):
        if elder:
            return rng.choice(ELDER_MEN if gender == "M" else ELDER_WOMEN)
        return rng.choice(ADULT_MEN if gender == "M" else ADULT_WOMEN)
    return child_first_name(rng, heritage, gender)


def middle_names(rng: random.Random, heritage: Heritage, gender: str, first: str) -> str | None:
    """Often none; sometimes two; never the first name again."""
    r = rng.random()
    if r < 0.4:
        return None
    pool = [
        n
        for n in (heritage.boys if gender == "M" else heritage.girls if gender == "F" else UNISEX)
        if n != first
    ]
    if r < 0.9:
        return rng.choice(pool)
    one, two = rng.sample(pool, 2)
    return f"{one} {two}"


def preferred_first(rng: random.Random, first: str, gender: str, chance: float) -> str | None:
    """A nickname or a chosen name for some; None (not set) for most."""
    if rng.random() >= chance:
        return None
    options = NICKNAMES.get(first)
    if options and rng.random() < 0.8:
        return rng.choice(options)
    return rng.choice(UNISEX) if gender == "X" or rng.random() < 0.5 else None


def title_for(rng: random.Random, gender: str) -> str:
    if gender == "X":
        return "Mx"
    if rng.random() < 0.03:
        return "Dr"
    return "Mr" if gender == "M" else rng.choice(("Mrs", "Mrs", "Ms", "Miss"))


# Letters NFKD does not split into a base letter and an accent.
_NOT_DECOMPOSED = str.maketrans({"ł": "l", "Ł": "L", "ı": "i", "ø": "o", "ß": "ss"})


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters and digits only, for e-mail addresses and usernames."""
    text = text.translate(_NOT_DECOMPOSED)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


def email_address(rng: random.Random, first: str, last: str) -> str:
    f, s = ascii_fold(first) or "parent", ascii_fold(last) or "family"
    local = rng.choice((f"{f}.{s}", f"{f}{s}{rng.randint(1, 99)}", f"{f[0]}{s}", f"{s}.{f}"))
    address = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
    # Parents type their own addresses into admission forms; capitals survive into the MIS.
    return address.capitalize() if rng.random() < 0.05 else address


def mobile(rng: random.Random) -> str:
    """A UK mobile in Ofcom's drama range, written the ways parents write it."""
    digits = f"{rng.randrange(1000):03d}"
    style = rng.random()
    if style < 0.75:
        return f"07700 900{digits}"
    if style < 0.9:
        return f"07700900{digits}"
    return f"+44 7700 900{digits}"


def bad_mobile(rng: random.Random) -> str:
    """Two numbers typed into one field: 22 digits, more than ParentPay accepts."""
    return f"07700 900{rng.randrange(1000):03d} / 07700 900{rng.randrange(1000):03d}"


def landline(rng: random.Random, town: Town) -> str:
    return f"{town.landline}{rng.randrange(1000):03d}"


def address(rng: random.Random, town: Town) -> tuple[str, str, str, str]:
    """(HouseNumber, Street, Town, PostCode)."""
    street = f"{rng.choice(STREET_NAMES)} {rng.choice(STREET_KINDS)}"
    r = rng.random()
    if r < 0.8:
        number = str(rng.randint(1, 220))
    elif r < 0.87:
        number = f"{rng.randint(1, 120)}{rng.choice('ABC')}"
    elif r < 0.95:
        number = f"Flat {rng.randint(1, 24)}"
    else:
        number = rng.choice(HOUSE_NAMES)
    inward = f"{rng.randint(1, 9)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
    return number, street, town.name, f"{town.area}{rng.choice(town.districts)} {inward}"


def school_name(rng: random.Random, phase: str) -> str:
    place, saint = rng.choice(PLACES), rng.choice(SAINTS)
    if phase == "Primary":
        forms = (
            f"{place} Primary School",
            f"{place} Community Primary School",
            f"St {saint}'s C of E Primary School",
            f"St {saint}'s Catholic Primary School",
            f"{place} Primary Academy",
        )
    else:
        forms = (
            f"{place} High School",
            f"{place} Academy",
            f"{place} School",
            f"St {saint}'s Catholic High School",
            f"{place} Community College",
        )
    return rng.choice(forms)


def slug(name: str) -> str:
    """A short account-name stem: "St Bede's Catholic High School" -> "stbedes"."""
    words = name.replace("'", "").split()
    stop = {
        "Primary",
        "Community",
        "C",
        "of",
        "E",
        "Catholic",
        "High",
        "School",
        "Academy",
        "College",
    }
    kept = [w for w in words if w not in stop] or words
    return ascii_fold("".join(kept))[:20]
