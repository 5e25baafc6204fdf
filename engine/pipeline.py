"""The pipeline: what every verb shares before it goes its own way.

`open_run` fixes the school, options, state, run id and today once for one school's run;
`prepare(run)` then wires the stages: extract (sources) -> transform (mappings) -> stage
(state) -> check. The verbs in `engine.commands` sit above it: plan diffs the result, export
writes it as files, match pairs it with ParentPay, check tries it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from engine import clock
from engine.checks.holds import awaiting_match
from engine.checks.packs import SqlCheck, load_checks
from engine.checks.run import CheckHit, held_ids, run_checks
from engine.config.school import SchoolConfig
from engine.events import Event, EventSink, ignore
from engine.records import Record
from engine.sources import SOURCES, Source
from engine.sources.extract import fetch_entities
from engine.state.store import RunLog, State, state_path
from engine.targets import TARGETS, Target
from engine.transform.functions import MappingFunctions
from engine.transform.mapping import load_mappings
from engine.transform.transform import Transformed, transform


@dataclass(frozen=True)
class Options:
    """How a command behaves; the CLI builds one from its flags."""

    state_dir: Path
    out_dir: Path | None = None
    allow_mass_archive: bool = False
    allow_mass_blank: bool = False
    offline: bool = False  # plan against bromsync's memory alone, without reading ParentPay
    show_sensitive: bool = False
    mappings_dir: Path | None = None
    on_event: EventSink = ignore
    fetch_jobs: int = 4  # entities fetched at once from one school
    record_dir: Path | None = None  # save Bromcom's raw responses here (credentials scrubbed)
    source_factory: Callable[[SchoolConfig], Source] | None = None
    target_factory: Callable[[], Target] | None = None

    @property
    def released_guards(self) -> frozenset[str]:
        """The guards this command's --allow-mass-archive and --allow-mass-blank lift."""
        flags = {"archive": self.allow_mass_archive, "blank": self.allow_mass_blank}
        return frozenset(guard for guard, given in flags.items() if given)

    def open_source(self, school: SchoolConfig) -> Source:
        """The school's MIS source (a test factory, or Bromcom, recording if asked to)."""
        if self.source_factory is not None:
            return self.source_factory(school)
        if self.record_dir is not None:
            return SOURCES["bromcom"](school, record_dir=self.record_dir)
        return SOURCES["bromcom"](school)

    def open_target(self) -> Target:
        """ParentPay (or a test's target), configured from the environment."""
        return (self.target_factory or TARGETS["parentpay"])()


@dataclass(frozen=True)
class PlanSchool:
    """The school as a plan file names it: what `apply` knows of it without the school file."""

    name: str
    urn: int


@dataclass(frozen=True)
class Run:
    """One command for one school: what every stage of it must agree on.

    `today` is read once, so a run that crosses midnight stages, checks and plans on one day.
    """

    school: SchoolConfig | PlanSchool
    options: Options
    state: State
    run_id: str
    today: dt.date
    log: RunLog

    @property
    def config(self) -> SchoolConfig:
        """The school file; every verb but `apply` (which has only the plan) has one."""
        if not isinstance(self.school, SchoolConfig):
            raise TypeError(f"{self.school.name}: this step needs the school file, not a plan")
        return self.school

    def say(self, stage: str, message: str) -> None:
        self.options.on_event(Event(self.school.name, stage, message))


@contextmanager
def open_run(school: SchoolConfig | PlanSchool, options: Options, command: str) -> Iterator[Run]:
    """Open the school's state and record one run of `command` in it, however the block ends."""
    today = clock.today()
    with (
        State(state_path(options.state_dir, school.urn)) as state,
        state.run(urn=school.urn, school=school.name, command=command, today=today) as log,
    ):
        yield Run(school, options, state, log.run_id, today, log)


def school_settings(school: SchoolConfig) -> dict[str, Any]:
    """The school-file values mapping expressions may read with setting(name)."""
    return {
        "lawful_basis": school.lawful_basis,
        "include_enrolment_statuses": list(school.include_enrolment_statuses),
        "staff_id_prefix": school.staff_id_prefix,
        "ufsm_year_codes": list(school.ufsm_year_codes),
        "year_code_aliases": dict(school.year_code_aliases),
        "dietary_allow": list(school.dietary_allow),
    }


@dataclass(frozen=True)
class Prepared:
    """A run's records after the SQL checks: what may be planned, and what is held back."""

    results: list[Transformed]  # per upload type, every record (held ones included)
    records: list[Record]  # not held back
    held: set[str]
    hits: list[CheckHit]

    @property
    def types(self) -> set[str]:
        return {t.type for t in self.results}


def prepare(run: Run) -> Prepared:
    """Fetch the school's data, map it to records, stage and check them in the run's state.

    The raw rows, the records and the check results are saved under the run; nothing is
    pushed.
    """
    school = run.config
    mappings = load_mappings(school.options, run.options.mappings_dir)
    needed = [entity for m in mappings for entity in m.entities()]
    source = run.options.open_source(school)
    try:
        fetched = fetch_entities(
            source,
            needed,
            school=school.name,
            on_event=run.options.on_event,
            jobs=run.options.fetch_jobs,
        )
    finally:
        source.close()
    for table, seconds in fetched.values():
        run.state.save_raw(run.run_id, table, seconds)
    tables = {name: table for name, (table, _) in fetched.items()}
    settings = school_settings(school)
    functions = MappingFunctions(today=run.today, settings=settings)
    consent = school.lawful_basis == "consent"
    results = [
        transform(m, tables, functions=functions, consent_required=consent) for m in mappings
    ]
    prepared = check_records(run.state, run.run_id, results, settings, run.today)
    for done in results:
        held = sum(1 for r in done.records if r["mis_id"] in prepared.held)
        run.say("map", f"{done.type}: {len(done.records)} records, {held} held back by checks")
    return prepared


def check_records(
    state: State,
    run_id: str,
    results: Sequence[Transformed],
    settings: dict[str, Any],
    today: dt.date,
) -> Prepared:
    """Stage the mapped records of a run, run the SQL checks over them, and record the outcome.

    Records an error-severity check flags are held back: neither planned nor archived.
    """
    every = [r for t in results for r in t.records]
    state.save_records(run_id, every)
    hits = run_checks(state.con, run_id, _checks(), {**settings, "today": today})
    hits += awaiting_match(every, state.match_holds())
    held = held_ids(hits)
    state.mark_held(run_id, held)
    state.save_checks(run_id, hits)
    return Prepared(list(results), [r for r in every if r["mis_id"] not in held], held, hits)


@cache
def _checks() -> list[SqlCheck]:
    return load_checks()
