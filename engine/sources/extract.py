"""Extract: fetch every entity the school's mappings read, once each, from its source."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from engine.events import Event, EventSink, heartbeat
from engine.sources import Source, Table
from engine.sources.bromcom import sql_literal


@dataclass(frozen=True)
class Only:
    """Fetch only the rows whose `column` equals one of `values` (as Bromcom compares text).

    `setting` names where the values come from (e.g. "dietary.allow"), for the run's events.
    """

    column: str
    values: tuple[str, ...]
    setting: str


def only_filter(only: Sequence[Only]) -> str | None:
    """The entityFilter that fetches the rows any of `only` asks for; None when none can match.

    Bromcom runs the filter as SQL Server WHERE text: values are quoted by `sql_literal` (a `'`
    doubled), and SQL Server's default collation compares them ignoring case, as dietary.allow
    is meant. The columns come from the mappings, whose schema allows only plain names.
    """
    parts = [
        f"{o.column} IN ({', '.join(sql_literal(v) for v in dict.fromkeys(o.values))})"
        for o in only
        if o.values
    ]
    return " OR ".join(parts) if parts else None


def fetch_entities(
    source: Source,
    entities: Iterable[str],
    *,
    school: str,
    on_event: EventSink,
    jobs: int = 1,
    only: Mapping[str, Sequence[Only]] | None = None,
) -> dict[str, tuple[Table, float]]:
    """Each entity's table and the seconds its fetch took, keyed by the name asked for.

    Permissions are checked for every entity before any data is fetched, so a school missing
    several ticks hears about all of them at once rather than one per attempt. Entities are
    independent, so up to `jobs` are fetched at once: Bromcom answers slowly (seconds per
    entity) and the time is spent waiting, not computing. The first failure stops the rest.

    An entity in `only` is fetched filtered to the rows it names; when no value is left to ask
    for (the school's list is empty) it is not fetched at all and reads as an empty table. Its
    permission is checked all the same: a school that later lists a value must not fail then.
    """
    wanted = list(dict.fromkeys(entities))

    def say(text: str) -> None:
        on_event(Event(school, "fetch", text))

    with heartbeat(say, "Bromcom's list of the entities this account may read"):
        source.require(wanted)
    only = only or {}
    done = itertools.count(1)  # next() is atomic in CPython: each fetch gets its own number

    def fetch(name: str) -> tuple[Table, float]:
        where = only_filter(only[name]) if name in only else ""
        if where is None:
            settings = " and ".join(dict.fromkeys(o.setting for o in only[name]))
            on_event(
                Event(
                    school,
                    "fetch",
                    f"[{next(done)}/{len(wanted)}] {name}: not fetched, {settings} lists nothing",
                )
            )
            return Table(name, {}, []), 0.0
        started = time.perf_counter()
        with heartbeat(say, f"Bromcom's answer for {name}"):
            table = source.fetch(name, where)
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
