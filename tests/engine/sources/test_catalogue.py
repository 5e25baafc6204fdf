"""engine/sources/catalogue.py: the catalogue agrees with docs/bromcom.md and with the simulator."""

from __future__ import annotations

import re

from engine.commands.setup_check import GUIDE_ENTITIES
from engine.sources.catalogue import catalogue, closest, find_entity, spellings_of
from simulators.bromcom.catalogue import CATALOGUE, CONFIRMED
from tests.helpers import REPO

_COLUMN = re.compile(r"(\w+) \((\w+), ([CA])\)")


def _documented() -> dict[str, tuple[tuple[str, ...], list[tuple[str, str, str]]]]:
    """docs/bromcom.md's catalogue table: entity -> (other spellings, [(column, type, C/A)])."""
    text = (REPO / "docs" / "bromcom.md").read_text(encoding="utf-8")
    section = text.split("### The catalogue", 1)[1].split("\n#", 1)[0]
    out = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| entity", "|---")):
            continue
        entity, also, columns = (cell.strip() for cell in line.strip("|").split("|"))
        rest = _COLUMN.sub("", columns).replace(",", "").strip()
        assert not rest, f"docs/bromcom.md: {entity} has {rest!r}, not 'Name (type, C|A)'"
        spellings = tuple(s.strip() for s in also.split(",") if s.strip())
        out[entity] = (spellings, _COLUMN.findall(columns))
    return out


def test_docs_bromcom_md_and_the_catalogue_agree() -> None:
    documented = _documented()
    data = {
        e.name: (
            e.spellings,
            [(c.name, c.type, "C" if c.confirmed else "A") for c in e.columns.values()],
        )
        for e in catalogue().values()
    }
    assert documented == data


def test_the_catalogue_holds_the_set_up_guides_entities() -> None:
    assert sorted(catalogue()) == sorted(GUIDE_ENTITIES)


def test_the_simulator_serves_what_the_engine_assumes() -> None:
    # The two are written apart (the engine never imports the simulator): this holds them equal.
    assert {name: list(columns) for name, columns in CATALOGUE.items()} == {
        e.name: [(c.name, c.type) for c in e.columns.values()] for e in catalogue().values()
    }
    for entity in catalogue().values():
        confirmed = {c.name for c in entity.columns.values() if c.confirmed}
        assert confirmed == CONFIRMED.get(entity.name, frozenset()), entity.name


def test_entities_are_found_in_any_case_and_by_other_spellings() -> None:
    assert find_entity("students") is find_entity("Students") is not None
    assert find_entity("PersonAddresses") is find_entity("PersonAddress")
    assert find_entity("schools") is find_entity("School")
    assert find_entity("TimeTable") is find_entity("Timetable")
    assert find_entity("Studnets") is None
    assert spellings_of("personaddress") == ("personaddress", "personaddresses")
    assert spellings_of("Lunches") == ("lunches",)


def test_closest_prefers_another_letter_case_then_difflib() -> None:
    assert closest("StudentId", ["StudentID", "Student"]) == "StudentID"
    assert closest("Studnets", ["Students", "Staff"]) == "Students"
    assert closest("Wholly", ["Students", "Staff"]) is None
