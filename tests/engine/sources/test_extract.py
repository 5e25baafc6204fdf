"""engine/sources/extract.py: what is fetched, and a fetch_only turned into Bromcom's entityFilter."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from engine.errors import BromcomPermissionError
from engine.events import Event
from engine.sources import Table
from engine.sources.extract import Only, fetch_entities, only_filter


class FakeSource:
    """Answers every fetch with one row and remembers what it was asked."""

    def __init__(self, permitted: Iterable[str]) -> None:
        self.permitted = list(permitted)
        self.required: list[str] = []
        self.fetched: list[tuple[str, str]] = []

    def entities(self) -> list[str]:
        return list(self.permitted)

    def require(self, entities: Iterable[str]) -> None:
        self.required = list(entities)
        missing = [e for e in self.required if e not in self.permitted]
        if missing:
            raise BromcomPermissionError(f"not ticked: {', '.join(missing)}", entities=missing)

    def fetch(self, entity: str, where: str = "") -> Table:
        self.fetched.append((entity, where))
        return Table(entity, {"ID": "int"}, [{"ID": 1}])

    def close(self) -> None:
        pass


ALLOW = Only("MedicalConditionDescription", ("Nut Allergy", "Coeliac"), "dietary.allow")


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        ([ALLOW], "MedicalConditionDescription IN ('Nut Allergy', 'Coeliac')"),
        # a quote in a value is doubled, so it cannot end the string and add SQL of its own
        (
            [Only("MedicalConditionDescription", ("Crohn's", "x') OR 1=1 --"), "dietary.allow")],
            "MedicalConditionDescription IN ('Crohn''s', 'x'') OR 1=1 --')",
        ),
        ([Only("C", ("a", "a", "b"), "s")], "C IN ('a', 'b')"),  # each value once
        ([Only("C", ("a",), "s"), Only("D", (), "t"), Only("D", ("b",), "t")],
         "C IN ('a') OR D IN ('b')"),
        ([Only("C", (), "dietary.allow")], None),  # nothing to ask for
        ([], None),
    ],
)  # fmt: skip
def test_only_filter(only: list[Only], expected: str | None) -> None:
    assert only_filter(only) == expected


def test_an_entity_with_a_list_is_fetched_filtered_and_the_others_whole() -> None:
    source = FakeSource(["Students", "PersonMedicalConditions"])
    got = fetch_entities(
        source,
        ["Students", "PersonMedicalConditions"],
        school="Oakfield",
        on_event=lambda e: None,
        only={"PersonMedicalConditions": [ALLOW]},
    )
    assert sorted(source.fetched) == [
        ("PersonMedicalConditions", "MedicalConditionDescription IN ('Nut Allergy', 'Coeliac')"),
        ("Students", ""),
    ]
    assert set(got) == {"Students", "PersonMedicalConditions"}


@pytest.mark.parametrize("jobs", [1, 4])
def test_an_empty_list_fetches_nothing_but_the_permission_is_still_checked(jobs: int) -> None:
    source = FakeSource(["Students", "PersonMedicalConditions"])
    events: list[Event] = []
    empty = Only("MedicalConditionDescription", (), "dietary.allow")
    got = fetch_entities(
        source,
        ["Students", "PersonMedicalConditions"],
        school="Oakfield",
        on_event=events.append,
        jobs=jobs,
        only={"PersonMedicalConditions": [empty]},
    )
    assert source.required == ["Students", "PersonMedicalConditions"]
    assert source.fetched == [("Students", "")]
    table, seconds = got["PersonMedicalConditions"]
    assert (table.entity, table.rows, seconds) == ("PersonMedicalConditions", [], 0.0)
    assert any(
        e.message.endswith("PersonMedicalConditions: not fetched, dietary.allow lists nothing")
        for e in events
    ), events

    unticked = FakeSource(["Students"])
    with pytest.raises(BromcomPermissionError):
        fetch_entities(
            unticked,
            ["Students", "PersonMedicalConditions"],
            school="Oakfield",
            on_event=lambda e: None,
            only={"PersonMedicalConditions": [empty]},
        )
    assert unticked.fetched == []
