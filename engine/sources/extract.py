"""Extract: fetch every entity the school's mappings read, once each, from its source."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from engine.events import Event, EventSink, heartbeat
from engine.sources import Source, Table


def fetch_entities(
    source: Source, entities: Iterable[str], *, school: str, on_event: EventSink, jobs: int = 1
) -> dict[str, tuple[Table, float]]:
    """Each entity's table and the seconds its fetch took, keyed by the name asked for.

    Permissions are checked for every entity before any data is fetched, so a school missing
    several ticks hears about all of them at once rather than one per attempt. Entities are
    independent, so up to `jobs` are fetched at once: Bromcom answers slowly (seconds per
    entity) and the time is spent waiting, not computing. The first failure stops the rest.
    """
    wanted = list(dict.fromkeys(entities))

    def say(text: str) -> None:
        on_event(Event(school, "fetch", text))

    with heartbeat(say, "Bromcom's list of the entities this account may read"):
        source.require(wanted)
    done = itertools.count(1)  # next() is atomic in CPython: each fetch gets its own number

    def fetch(name: str) -> tuple[Table, float]:
        started = time.perf_counter()
        with heartbeat(say, f"Bromcom's answer for {name}"):
            table = source.fetch(name)
        seconds = time.perf_counter() - started
        on_event(
            Event(
                school,
                "fetch",
                f"[{next(done)}/{len(wanted)}] {name}: {len(table.rows)} rows in {seconds:.1f}s",
            )
        )
        return table, seconds

    if jobs <= 1:
        return {name: fetch(name) for name in wanted}
    with ThreadPoolExecutor(max_workers=min(jobs, len(wanted)), thread_name_prefix="fetch") as pool:
        futures = {name: pool.submit(fetch, name) for name in wanted}
        try:
            return {name: future.result() for name, future in futures.items()}
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise
