"""The pipeline: wires config -> extract -> transform -> stage -> diff -> plan -> push.

Each public function handles one school and returns a `SchoolResult`; errors a person can act
on are caught here, recorded in the school's state, and turned into that school's exit code,
so one school's failure never stops the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from engine import clock
from engine.checks.packs import SqlCheck, load_checks
from engine.checks.run import CheckHit, held_ids, run_checks
from engine.config.school import SchoolConfig
from engine.errors import BlockedPlanError, BromsyncError, PlanError
from engine.events import Event, EventSink, ignore
from engine.plan.diff import Change, apply_change, diff, operation_of
from engine.plan.plan import (
    Plan,
    PlanFiles,
    archive_guard,
    build_plan,
    consent_guard,
    read_plan,
    summary_line,
    write_plan,
)
from engine.records import TYPES, OpResult, Record, natural_key
from engine.report.html import render_html
from engine.report.markdown import render_markdown
from engine.sources import SOURCES, Source
from engine.sources.extract import fetch_entities
from engine.state.store import RunLog, State, state_path
from engine.targets import TARGETS, Target
from engine.transform.functions import MappingFunctions
from engine.transform.mapping import load_mappings
from engine.transform.transform import Transformed, transform


@dataclass
class SchoolResult:
    """What happened to one school."""

    name: str
    urn: int | None
    exit_code: int
    message: str
    plan: Plan | None = None
    plan_files: PlanFiles | None = None
    applied: int = 0
    rejected: list[OpResult] = field(default_factory=list)
    state: Path | None = None
    error: BromsyncError | None = None


@dataclass(frozen=True)
class Options:
    """How a plan or run behaves; the CLI builds one from its flags."""

    state_dir: Path
    out_dir: Path | None = None
    allow_mass_archive: bool = False
    show_sensitive: bool = False
    mappings_dir: Path | None = None
    on_event: EventSink = ignore
    fetch_jobs: int = 4  # entities fetched at once from one school
    record_dir: Path | None = None  # save Bromcom's raw responses here (credentials scrubbed)
    source_factory: Callable[[SchoolConfig], Source] | None = None
    target_factory: Callable[[], Target] | None = None


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


def open_source(school: SchoolConfig, options: Options) -> Source:
    """The school's MIS source as `options` ask for it (a test factory, or Bromcom, recording)."""
    if options.source_factory is not None:
        return options.source_factory(school)
    if options.record_dir is not None:
        return SOURCES["bromcom"](school, record_dir=options.record_dir)
    return SOURCES["bromcom"](school)


@dataclass(frozen=True)
class Checked:
    """A run's records after the SQL checks: what may be planned, and what is held back."""

    records: list[Record]  # not held back
    held: set[str]
    hits: list[CheckHit]


def check_records(
    state: State,
    run_id: str,
    results: Sequence[Transformed],
    settings: Mapping[str, Any],
    today: dt.date,
) -> Checked:
    """Stage the mapped records of a run, run the SQL checks over them, and record the outcome.

    Records an error-severity check flags are held back: neither planned nor archived.
    """
    every = [r for t in results for r in t.records]
    state.save_records(run_id, every)
    hits = run_checks(state.con, run_id, _checks(), {**settings, "today": today})
    hits += _awaiting_match(every, state.match_holds())
    held = held_ids(hits)
    state.mark_held(run_id, held)
    state.save_checks(run_id, hits)
    return Checked([r for r in every if r["mis_id"] not in held], held, hits)


def _awaiting_match(records: Sequence[Record], holds: Mapping[str, str]) -> list[CheckHit]:
    """Records the data-matching exercise has not settled: sending them would duplicate an account."""
    hits = []
    for kind in TYPES:
        waiting = [r["mis_id"] for r in records if r["type"] == kind and r["mis_id"] in holds]
        if waiting:
            hits.append(
                CheckHit(
                    name="awaiting_data_matching",
                    severity="error",
                    type=kind,
                    records=sorted(waiting, key=natural_key),
                    message="The last `bromsync match` found these records may already have a "
                    "ParentPay account under another ID, so they are held back: uploading them "
                    "now could create a second account for the same person.",
                    remediation="Review the match report, settle each line (re-key with "
                    "`bromsync match --apply`, or correct the data), then run `bromsync match` "
                    "again; it releases what it no longer finds uncertain.",
                    details=sorted({holds[m] for m in waiting}),
                )
            )
    return hits


@cache
def _checks() -> list[SqlCheck]:
    return load_checks()


def _skip_known_rejections(
    changes: list[Change],
    summary: dict[str, dict[str, int]],
    rejected: Mapping[str, Mapping[str, Any]],
) -> tuple[list[Change], list[CheckHit]]:
    """Leave out operations ParentPay already refused exactly as they stand, and report them.

    Sending them again would be refused again, so a run with unchanged data pushes nothing;
    once the record's data changes in Bromcom the new operation differs and is sent.
    """
    kept, again = [], []
    for change in changes:
        last = rejected.get(change.mis_id)
        if last is not None and last["operation"] == operation_of(change):
            again.append((change, last))
            summary[change.type][change.op] -= 1
        else:
            kept.append(change)
    hits = []
    for kind in sorted({c.type for c, _ in again}):
        of_kind = [(c, last) for c, last in again if c.type == kind]
        hits.append(
            CheckHit(
                name="rejected_by_parentpay",
                severity="error",
                type=kind,
                records=[c.mis_id for c, _ in of_kind],
                message="ParentPay refused these records at their last upload, and their data has "
                "not changed since, so they are not sent again (its reasons are listed above).",
                remediation="Correct the field ParentPay names in Bromcom; the next run sends the "
                "corrected record.",
                details=sorted(
                    {f"{c.mis_id}: {last['code']}: {last['message']}" for c, last in of_kind}
                ),
            )
        )
    return kept, hits


def fetch_and_check(
    school: SchoolConfig, options: Options, state: State, run_id: str
) -> tuple[list[Transformed], Checked]:
    """Fetch the school's data, map it to records, stage and check them under `run_id`.

    What plan, export and match share before each goes its own way: the raw rows, the
    records and the check results are saved in `state`; nothing is pushed.
    """
    today = clock.today()
    say = options.on_event
    mappings = load_mappings(school.options, options.mappings_dir)
    needed = [entity for m in mappings for entity in m.entities()]
    fetched = fetch_entities(
        open_source(school, options),
        needed,
        school=school.name,
        on_event=say,
        jobs=options.fetch_jobs,
    )
    for table, seconds in fetched.values():
        state.save_raw(run_id, table, seconds)
    tables = {name: table for name, (table, _) in fetched.items()}
    settings = school_settings(school)
    functions = MappingFunctions(today=today, settings=settings)
    consent = school.lawful_basis == "consent"
    results = [
        transform(m, tables, functions=functions, consent_required=consent) for m in mappings
    ]
    checked = check_records(state, run_id, results, settings, today)
    for done in results:
        held = sum(1 for r in done.records if r["mis_id"] in checked.held)
        say(
            Event(
                school.name,
                "map",
                f"{done.type}: {len(done.records)} records, {held} held back by checks",
            )
        )
    return results, checked


def compute_plan(
    school: SchoolConfig, options: Options, state: State, run_id: str
) -> tuple[Plan, dict[str, Record]]:
    """Fetch, map, stage, check and diff one school; the plan, and who is who for its report.

    Writes the run's raw rows, records and check results to `state`; pushes nothing. The
    second value maps every mis_id the plan may name (today's records, held ones included,
    and the baseline) to its record, so the report can name people.
    """
    today = clock.today()
    say = options.on_event
    results, checked = fetch_and_check(school, options, state, run_id)
    records, hits = checked.records, checked.hits

    baseline = state.uploaded()
    changes, summary = diff(records, baseline, types={t.type for t in results}, held=checked.held)
    changes, refused = _skip_known_rejections(changes, summary, state.rejections())
    hits = [*hits, *refused]
    reason = consent_guard(school, {t.type: (len(t.records), t.no_consent) for t in results})
    if reason is None and not options.allow_mass_archive:
        reason = archive_guard(school, summary, baseline)
    plan = build_plan(
        school=school,
        run_id=run_id,
        today=today.isoformat(),
        baseline_id=state.baseline_id(),
        changes=changes,
        summary=summary,
        checks=hits,
        no_consent=sum(t.no_consent for t in results),
        left_out={t.type: t.left_out for t in results},
        blocked_reason=reason,
    )
    people: dict[str, Record] = {**baseline, **{r["mis_id"]: r for t in results for r in t.records}}
    say(Event(school.name, "plan", f"{len(changes)} changes" + (" (blocked)" if reason else "")))
    return plan, people


def _write(plan: Plan, people: dict[str, Record], out_dir: Path, options: Options) -> PlanFiles:
    """The plan's JSON, and its report as Markdown and as a self-contained HTML page."""
    show = options.show_sensitive
    return write_plan(
        plan,
        out_dir,
        markdown=render_markdown(plan, people=people, show_sensitive=show),
        html=render_html(plan, people=people, show_sensitive=show),
    )


def _plan_exit_code(plan: Plan) -> int:
    held = any(c["severity"] == "error" for c in plan.data["checks"])
    return 3 if plan.blocked or held else 0


def plan_school(school: SchoolConfig, options: Options) -> SchoolResult:
    """`bromsync plan` for one school: writes the plan files, pushes nothing."""
    return _with_state(school, options, "plan", _plan_only)


def run_school(school: SchoolConfig, options: Options) -> SchoolResult:
    """`bromsync run` for one school: plan, then apply unless a guard blocked it."""
    return _with_state(school, options, "run", _plan_and_apply)


def _with_state(
    school: SchoolConfig,
    options: Options,
    command: str,
    body: Callable[[SchoolConfig, Options, State, str], SchoolResult],
) -> SchoolResult:
    path = state_path(options.state_dir, school.urn)
    today = clock.today()
    try:
        with (
            State(path) as state,
            state.run(urn=school.urn, school=school.name, command=command, today=today) as log,
        ):
            result = body(school, options, state, log.run_id)
            _log_result(log, result, result.plan)
    except BromsyncError as exc:
        return SchoolResult(school.name, school.urn, exc.exit_code, str(exc), error=exc, state=path)
    result.state = path
    return result


def _log_result(log: RunLog, result: SchoolResult, plan: Plan | None) -> None:
    log.status = {0: "ok", 3: "incomplete"}.get(result.exit_code, "failed")
    log.message = result.message
    if plan is not None:
        log.baseline, log.plan_digest, log.summary = (
            plan.baseline,
            plan.digest,
            plan.data["summary"],
        )


def _plan_only(school: SchoolConfig, options: Options, state: State, run_id: str) -> SchoolResult:
    plan, people = compute_plan(school, options, state, run_id)
    files = _write(plan, people, options.out_dir or Path("plans"), options)
    code = _plan_exit_code(plan)
    return SchoolResult(
        school.name, school.urn, code, _plan_message(plan), plan=plan, plan_files=files
    )


def _plan_message(plan: Plan) -> str:
    if plan.blocked:
        return f"blocked: {plan.data['blocked_reason']}"
    return summary_line(plan.data["summary"]) + _held_message(plan)


def _held_message(plan: Plan) -> str:
    held = len(plan.held_back())
    return f"; {held} held back by checks (see the plan's report)" if held else ""


def _plan_and_apply(
    school: SchoolConfig, options: Options, state: State, run_id: str
) -> SchoolResult:
    plan, people = compute_plan(school, options, state, run_id)
    files = _write(plan, people, options.out_dir, options) if options.out_dir else None
    if plan.blocked:
        return SchoolResult(
            school.name, school.urn, 3, _plan_message(plan), plan=plan, plan_files=files
        )
    target = (options.target_factory or TARGETS["parentpay"])()
    result = _push(plan, state, target, run_id, school.name, options.on_event)
    result.plan_files = files
    _note_held(result, plan)
    return result


def _note_held(result: SchoolResult, plan: Plan) -> None:
    """Records the plan's checks held back did not go either: exit 3 (CONTRACTS 3)."""
    if result.exit_code == 0 and _plan_exit_code(plan) == 3:
        result.exit_code = 3
        result.message += _held_message(plan)


def apply_plan(plan_path: Path, options: Options) -> SchoolResult:
    """`bromsync apply`: push exactly the plan in `plan_path`, if it is still current."""
    plan = read_plan(plan_path)
    name = plan.data["school"]["name"]
    if plan.blocked:
        raise BlockedPlanError(
            f"{plan_path} is blocked ({plan.data['blocked_reason']}); nothing was pushed. "
            "Make a new plan (with --allow-mass-archive if the archives are real)."
        )
    path = state_path(options.state_dir, plan.urn)
    if not path.exists():
        raise PlanError(
            f"no state for URN {plan.urn} in {options.state_dir}: apply must use the state folder "
            "the plan was made with (--state-dir or BROMSYNC_STATE_DIR). Nothing was pushed."
        )
    with State(path) as state:
        current = state.baseline_id()
        if current != plan.baseline:
            raise PlanError(_stale(plan_path, plan, current, state.applied_at(plan.digest)))
        with state.run(urn=plan.urn, school=name, command="apply", today=clock.today()) as log:
            target = (options.target_factory or TARGETS["parentpay"])()
            result = _push(plan, state, target, log.run_id, name, options.on_event)
            _note_held(result, plan)
            _log_result(log, result, plan)
    result.state = path
    return result


def _stale(plan_path: Path, plan: Plan, current: str | None, applied_at: str | None) -> str:
    if applied_at is not None:
        return (
            f"{plan_path} was already applied on {applied_at} (upload {current}); nothing was "
            "pushed again. Run `bromsync plan` for what has changed since."
        )
    before = plan.baseline or "none: the first upload"
    return (
        f"{plan_path} is stale: it was planned against upload {before}, but ParentPay has since "
        f"acknowledged upload {current}. Nothing was pushed; run `bromsync plan` again and review "
        "the new plan."
    )


def _push(
    plan: Plan, state: State, target: Target, run_id: str, name: str, say: EventSink
) -> SchoolResult:
    operations = plan.operations()
    changes = plan.changes()
    if not operations:
        return SchoolResult(
            name, plan.urn, 0, "nothing to push: ParentPay is up to date", plan=plan
        )
    known = state.uploaded()
    key_prefix = f"bromsync-{plan.urn}-{plan.digest[:24]}"

    def acknowledge(batch: int, batches: int, results: list[OpResult]) -> None:
        new_states = []
        for result in results:
            if result["status"] == "applied":
                change = changes[result["index"]]
                known[change.mis_id] = apply_change(known.get(change.mis_id), change)
                new_states.append(known[change.mis_id])
        state.acknowledge(
            run_id=run_id,
            plan_digest=plan.digest,
            batch=batch,
            key=results[0]["idempotency_key"],
            upload_id=results[0]["upload_id"],
            results=results,
            new_states=new_states,
        )
        say(
            Event(
                name,
                "push",
                f"batch {batch + 1}/{batches}: {sum(1 for r in results if r['status'] == 'applied')} applied",
            )
        )

    pushed = target.push(plan.data["site_id"], operations, key_prefix, on_batch=acknowledge)
    rejected = [r for r in pushed.results if r["status"] == "rejected"]
    message = f"{pushed.applied} applied" + (
        f", {len(rejected)} rejected by ParentPay" if rejected else ""
    )
    return SchoolResult(
        name,
        plan.urn,
        3 if rejected else 0,
        message,
        plan=plan,
        applied=pushed.applied,
        rejected=rejected,
    )
