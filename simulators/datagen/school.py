"""Generate whole schools, or a trust of them, into the Bromcom simulator's folder format."""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import names, pools
from .context import Ctx
from .extras import add_extras
from .groups import add_groups
from .pupils import add_preadmissions, add_pupils
from .staff import add_staff, plan_groups
from .tables import check_permitted, write_org


@dataclass(frozen=True)
class Size:
    phase: str
    pupils: dict[int, int]  # year index (R = 0) -> rows in Students
    preadmissions: tuple[int, int]  # inclusive range
    staff_scale: int = 1  # each secondary post (and leaver) this many times over


SIZES: dict[str, Size] = {
    "tiny": Size("Primary", {0: 2, 1: 2, 2: 2, 3: 2, 4: 2, 5: 1, 6: 1}, (3, 3)),
    "primary": Size("Primary", dict.fromkeys(range(7), 30), (27, 33)),
    "secondary": Size(
        "Secondary", {**dict.fromkeys(range(7, 12), 330), 12: 180, 13: 170}, (285, 315)
    ),
    # Five secondaries in one, for benchmarks: 10,000 pupils, ~1,500 pre-admissions, ~900 staff.
    "large": Size(
        "Secondary",
        {**dict.fromkeys(range(7, 12), 1650), 12: 900, 13: 850},
        (1425, 1575),
        staff_scale=5,
    ),
}


@dataclass(frozen=True)
class SchoolSummary:
    """What a test or the demo needs to point bromsync at a generated school."""

    org_id: int
    name: str
    urn: int
    la_estab: str
    phase: str  # "Primary" or "Secondary"
    size: str
    username: str
    password: str
    data_dir: Path  # the DATA folder (holding <org_id>/), as passed to generate_school
    counts: dict[str, int] = field(hash=False)  # rows written per entity, all 21


def generate_school(
    out_dir: Path,
    *,
    org_id: int,
    seed: int,
    size: str = "primary",
    today: dt.date,
    username: str,
    password: str,
    permitted: Iterable[str] | None = None,
    name: str | None = None,
    urn: int | None = None,
) -> SchoolSummary:
    """Write `out_dir/<org_id>/` (account.json and all 21 entity files) for one school.

    `out_dir` is the simulator's DATA folder. Dates (school year, leavers, FSM, the timetable
    week) are relative to `today`. Same arguments, same bytes: only random.Random(seed) is used.
    `permitted` is what account.json lets the account read (None: all 21); every entity file
    is written regardless, as Bromcom holds the data whatever the account may see.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    if isinstance(today, dt.datetime) or not isinstance(today, dt.date):
        raise TypeError("today must be a datetime.date")
    if isinstance(org_id, bool) or not isinstance(org_id, int) or org_id <= 0:
        raise ValueError(f"org_id must be a positive int, not {org_id!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError("seed must be an int")
    allowed = check_permitted(permitted)
    spec = SIZES[size]
    rng = random.Random(seed)
    town = rng.choice(pools.TOWNS)
    name = name or names.school_name(rng, spec.phase)
    urn = urn if urn is not None else rng.randint(100000, 149999)
    estab = rng.randint(2000, 3999) if spec.phase == "Primary" else rng.randint(4000, 4999)
    ctx = Ctx(
        rng=rng,
        today=today,
        phase=spec.phase,
        size=size,
        staff_scale=spec.staff_scale,
        town=town,
        la_code=town.la_code,
        estab=estab,
        school_domain=f"{names.slug(name) or 'school'}.example.org",
    )
    ctx.next_person = rng.randint(1000, 9000)
    ctx.next_collection = rng.randint(100, 900)
    ctx.next_admission = rng.randint(0, 3000)

    add_staff(ctx)
    plan_groups(ctx, spec.pupils)
    add_pupils(ctx, spec.pupils)
    add_preadmissions(ctx, rng.randint(*spec.preadmissions))
    add_groups(ctx)
    add_extras(ctx)
    la_estab = f"{town.la_code:03d}{estab:04d}"
    ctx.add("School", SchoolID=org_id, SchoolName=name, URN=urn, LAEstab=la_estab, Phase=spec.phase)

    counts = write_org(
        out_dir, org_id, ctx.tables, username=username, password=password, permitted=allowed
    )
    return SchoolSummary(
        org_id, name, urn, la_estab, spec.phase, size, username, password, Path(out_dir), counts
    )


def generate_trust(
    out_dir: Path,
    *,
    count: int,
    seed: int,
    today: dt.date,
    first_org_id: int = 30001,
    sizes: Sequence[str] | None = None,
) -> list[SchoolSummary]:
    """`count` schools with org_ids first_org_id, first_org_id + 1, ...

    Every fifth school from the second on is a secondary, the rest primaries, unless `sizes`
    (one per school) says otherwise. Names, URNs and usernames are distinct; passwords are
    random (from the seed) and returned in the summaries.
    """
    if sizes is not None and len(sizes) != count:
        raise ValueError(f"sizes has {len(sizes)} entries for {count} schools")
    rng = random.Random(seed)
    used_names: set[str] = set()
    used_urns: set[int] = set()
    used_users: set[str] = set()
    summaries = []
    for number in range(count):
        size = (
            sizes[number] if sizes is not None else ("secondary" if number % 5 == 1 else "primary")
        )
        phase = SIZES[size].phase if size in SIZES else "Primary"
        name = names.school_name(rng, phase)
        while name in used_names:
            name = names.school_name(rng, phase)
            if rng.random() < 0.1:
                name = f"{name} ({number + 1})"
        used_names.add(name)
        urn = rng.randint(100000, 149999)
        while urn in used_urns:
            urn = rng.randint(100000, 149999)
        used_urns.add(urn)
        org_id = first_org_id + number
        username = f"parentpay_{names.slug(name)}"
        if username in used_users:
            username = f"{username}_{org_id}"
        used_users.add(username)
        password = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(20))
        summaries.append(
            generate_school(
                out_dir,
                org_id=org_id,
                seed=rng.randrange(2**32),
                size=size,
                today=today,
                username=username,
                password=password,
                name=name,
                urn=urn,
            )
        )
    return summaries
