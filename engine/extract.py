"""Extract: fetch every entity the school's mappings read, once each, from its source."""

from __future__ import annotations

import time
from collections.abc import Iterable

from engine.events import Event, EventSink
from engine.sources import Source, Table


def fetch_entities(
    source: Source, entities: Iterable[str], *, school: str, on_event: EventSink
) -> dict[str, tuple[Table, float]]:
    """Each entity's table and the seconds its fetch took, keyed by the name asked for.

    Permissions are checked for every entity before any data is fetched, so a school missing
    several ticks hears about all of them at once rather than one per attempt.
    """
    wanted = list(dict.fromkeys(entities))
    source.require(wanted)
    out: dict[str, tuple[Table, float]] = {}
    for index, name in enumerate(wanted, 1):
        started = time.perf_counter()
        table = source.fetch(name)
        seconds = time.perf_counter() - started
        out[name] = (table, seconds)
        on_event(
            Event(school, "fetch", f"[{index}/{len(wanted)}] {name}: {len(table.rows)} rows in {seconds:.1f}s")
        )
    return out
