"""The catalogue: Bromcom's entities and the columns bromsync assumes they carry, with their types.

The data is `catalogue.yaml` beside this module (docs/bromcom.md, "The catalogue", is the same
table for people). `bromsync validate` checks every entity and column a mapping names against it,
so a misspelt name is found before any school runs; at run time the columns Bromcom's own answer
declares are what counts (engine/transform/columns.py).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from engine.config.yamlfile import SAFE_LOADER

_FILE = Path(__file__).with_name("catalogue.yaml")


@dataclass(frozen=True)
class Column:
    """One column as bromsync assumes it: its `xs:` type, and whether public code confirms it."""

    name: str
    type: str  # the xs: type name of Bromcom's inline schema: int, string, boolean, dateTime
    confirmed: bool  # C in docs/bromcom.md; otherwise A, assumed


@dataclass(frozen=True)
class Entity:
    """One Bromcom entity: its name as ParentPay's set-up guide spells it, and its columns."""

    name: str
    spellings: tuple[str, ...]  # other integrators' names for it (docs/bromcom.md)
    columns: dict[str, Column]  # in the order docs/bromcom.md lists them

    def names(self) -> tuple[str, ...]:
        """Every accepted spelling, the guide's first."""
        return (self.name, *self.spellings)


@cache
def catalogue() -> dict[str, Entity]:
    """Every entity of the catalogue, by the set-up guide's name, in the file's order."""
    # the safe loader (libyaml's when PyYAML has it: about 10x faster on this file)
    data = yaml.load(_FILE.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    out: dict[str, Entity] = {}
    for name, spec in data.items():
        columns = {
            column: Column(column, kind, mark == "C")
            for column, (kind, mark) in spec["columns"].items()
        }
        out[name] = Entity(name, tuple(spec.get("spellings", ())), columns)
    return out


@cache
def _by_spelling() -> dict[str, Entity]:
    return {spelling.casefold(): e for e in catalogue().values() for spelling in e.names()}


def find_entity(name: str) -> Entity | None:
    """The entity `name` means (any letter case, or another integrator's spelling), or None."""
    return _by_spelling().get(name.casefold())


def spellings_of(name: str) -> tuple[str, ...]:
    """Every spelling of the entity `name`, in lower case (just `name` for an unknown one)."""
    entity = find_entity(name)
    if entity is None:
        return (name.casefold(),)
    return tuple(dict.fromkeys(n.casefold() for n in entity.names()))


def closest(name: str, choices: list[str]) -> str | None:
    """The one of `choices` that `name` most likely misspells: same letters in another case
    first, else difflib's closest (the did-you-mean of every catalogue and schema message)."""
    folded = {choice.casefold(): choice for choice in choices}
    if name.casefold() in folded:
        return folded[name.casefold()]
    found = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[found[0]] if found else None
