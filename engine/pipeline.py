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
from pathlib import Path
from typing import Any

from engine import clock
from engine.checks.holds import awaiting_match
from engine.checks.packs import SqlCheck, school_checks
from engine.checks.run import CheckHit, held_ids, run_checks
from engine.config.environment import SmtpSettings
from engine.config.school import SchoolConfig
from engine.errors import ColumnsMismatchError
from engine.events import Event, EventSink, ignore
from engine.records import Record
from engine.sources import SOURCES, Source, Table
from engine.sources.catalogue import find_entity
from engine.sources.extract import Only, fetch_entities
from engine.state.store import RunLog, State, state_path
from engine.targets import TARGETS, Target
from engine.transform.columns import column_reads, columns_read, undeclared
from engine.transform.functions import MappingFunctions
from engine.transform.mapping import Mapping, load_mappings
from engine.transform.transform import Documents, Transformed, transform


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
    bromcom_timeout: float | None = None  # --bromcom-timeout; None: the school file's
    parentpay_timeout: float | None = None  # --parentpay-timeout; None: the school file's
    source_factory: Callable[[SchoolConfig], Source] | None = None
    target_factory: Callable[[], Target] | None = None
    smtp: SmtpSettings | None = None  # where results messages go (BROMSYNC_SMTP_URL); None: nowhere

    @property
    def released_guards(self) -> frozenset[str]:
        """The guards this command's --allow-mass-archive and --allow-mass-blank lift."""
        flags = {"archive": self.allow_mass_archive, "blank": self.allow_mass_blank}
        return frozenset(guard for guard, given in flags.items() if given)

    def open_source(self, school: SchoolConfig) -> Source:
        """The school's MIS source (a test factory, or Bromcom, recording if asked to)."""
        if self.source_factory is not None:
            return self.source_factory(school)
        timeout = self.bromcom_timeout or school.bromcom_timeout
        if self.record_dir is not None:
            return SOURCES["bromcom"](school, record_dir=self.record_dir, read_timeout=timeout)
        return SOURCES["bromcom"](school, read_timeout=timeout)

    def open_target(self, school: SchoolConfig | None = None) -> Target:
        """ParentPay (or a test's target), configured from the environment; its timeout is
        --parentpay-timeout, else the school file's, else the default."""
        if self.target_factory is not None:
            return self.target_factory()
        timeout = self.parentpay_timeout or (school.parentpay_timeout if school else None)
        return TARGETS["parentpay"](timeout=timeout) if timeout else TARGETS["parentpay"]()


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


# Where each list-valued setting() is written in the school file, for what people read.
SETTING_KEYS = {
    "dietary_allow": "dietary.allow",
    "include_enrolment_statuses": "upload.include_enrolment_statuses",
    "ufsm_year_codes": "ufsm.year_codes",
}


def fetch_only(mappings: Sequence[Mapping], school: SchoolConfig) -> dict[str, list[Only]]:
    """The entities to fetch only in part, with the rows to ask for (mappings' `fetch_only`).

    An entity is fetched in part only when every read of it says so, since one read that needs
    every row needs them fetched; the parts of several reads are fetched together.
    """
    settings = school_settings(school)
    reads: dict[str, list[Only | None]] = {}
    for mapping in mappings:
        for entity, rule in mapping.reads():
            part = None
            if rule is not None:
                values = tuple(str(v) for v in settings[rule.setting])
                part = Only(rule.column, values, SETTING_KEYS[rule.setting])
            reads.setdefault(entity, []).append(part)
    return {
        entity: [part for part in dict.fromkeys(parts) if part is not None]
        for entity, parts in reads.items()
        if None not in parts
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
            only=fetch_only(mappings, school),
        )
    finally:
        source.close()
    tables = {name: table for name, (table, _) in fetched.items()}
    check_columns(run, mappings, tables)
    keep = columns_read(mappings)
    for table, seconds in fetched.values():
        run.state.save_raw(run.run_id, table, seconds, keep.get(table.entity.casefold(), set()))
    settings = school_settings(school)
    functions = MappingFunctions(today=run.today, settings=settings)
    consent = school.lawful_basis == "consent"
    documents = Documents(tables)  # each entity's rows and join indexes, for every mapping
    results = [
        transform(m, tables, functions=functions, consent_required=consent, documents=documents)
        for m in mappings
    ]
    checks = school_checks(school)
    prepared = check_records(run.state, run.run_id, results, settings, run.today, checks)
    for done in results:
        held = sum(1 for r in done.records if r["mis_id"] in prepared.held)
        run.say("map", f"{done.type}: {len(done.records)} records, {held} held back by checks")
    return prepared


def check_columns(run: Run, mappings: Sequence[Mapping], tables: dict[str, Table]) -> None:
    """Bromcom's answer has every column the mappings read, and no key column changed type.

    Run before anything is staged or planned: a column the mappings read that Bromcom does not
    send would read as null for everyone (a misspelt join column blanked every payer), and a
    key column whose type changed can make the same people look like others (StudentID sent as
    text). Either is a ColumnsMismatchError (exit 2) and nothing is staged or pushed.
    """
    school = run.config
    declared = {name: table.columns for name, table in tables.items()}
    missing = undeclared(mappings, declared)
    if missing:
        raise ColumnsMismatchError(
            f"{school.name} ({school.path}): Bromcom's answer lacks columns the mappings read, "
            "so they would be empty for everyone; nothing was staged or pushed:\n"
            + "\n".join(f"  {line}" for line in missing)
            + "\nCorrect the column's name in the mapping (a misspelling), or if this school's "
            "Bromcom spells it another way, change the mapping and the catalogue together "
            '(mappings/README.md, "When a real Bromcom column differs").',
            problems=missing,
            school=school.name,
        )
    changed = _key_type_changes(run, mappings, declared)
    if changed:
        raise ColumnsMismatchError(
            f"{school.name} ({school.path}): Bromcom changed the type of a key column since the "
            "last run, so records could be matched to the wrong people (blanked, archived or "
            "created again under new IDs); nothing was staged or pushed:\n"
            + "\n".join(f"  {line}" for line in changed)
            + "\nAsk Bromcom support why the column's type changed, and to put it back. If "
            "Bromcom means the new type to stay, first check that the IDs still name the same "
            "people; then change the column's type in docs/bromcom.md and "
            "engine/sources/catalogue.yaml, and the next run takes it (mappings/README.md, "
            '"When Bromcom changes a column").',
            problems=changed,
            school=school.name,
        )


def _key_type_changes(
    run: Run, mappings: Sequence[Mapping], declared: dict[str, dict[str, str]]
) -> list[str]:
    """Each key column whose declared type differs from the last recorded fetch's.

    A change to the type the catalogue assumes is not one: that is how a change Bromcom made
    for good is taken, once the project has reviewed it and changed the catalogue.
    """
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for mapping in mappings:
        # The record's ID first: the read a message names for a column read in several places.
        reads = sorted(column_reads(mapping), key=lambda r: r.what != "source.id")
        for read in reads:
            key = (read.entity.casefold(), read.column)
            if not read.key or key in seen:
                continue
            seen.add(key)
            now = declared.get(read.entity, {}).get(read.column)
            before = (run.state.last_column_types(read.entity) or {}).get(read.column)
            if now is None or before is None or now == before:
                continue
            known = find_entity(read.entity)
            assumed = known.columns.get(read.column) if known else None
            if assumed is not None and assumed.type == now:
                run.say(
                    "fetch", f"{read.entity}.{read.column} is now xs:{now}, as the catalogue says"
                )
                continue
            out.append(
                f"{read.entity}.{read.column} is now xs:{now}; the last run had xs:{before} "
                f"(it is a key: {read.what} at {read.where})"
            )
    return out


def check_records(
    state: State,
    run_id: str,
    results: Sequence[Transformed],
    settings: dict[str, Any],
    today: dt.date,
    checks: Sequence[SqlCheck],
) -> Prepared:
    """Stage the mapped records of a run, run the SQL checks over them, and record the outcome.

    Records an error-severity check flags are held back: neither planned nor archived.
    `checks` are the school's (engine.checks.packs.school_checks).
    """
    every = [r for t in results for r in t.records]
    state.save_records(run_id, every)
    hits = run_checks(state.con, run_id, every, checks, {**settings, "today": today})
    hits += awaiting_match(every, state.match_holds())
    held = held_ids(hits)
    state.mark_held(run_id, held)
    state.save_checks(run_id, hits)
    return Prepared(list(results), [r for r in every if r["mis_id"] not in held], held, hits)
