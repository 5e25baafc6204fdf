"""`bromsync plan`: fetch, map, stage, check and diff one school; write the plan files."""

from __future__ import annotations

import dataclasses
from contextlib import closing
from pathlib import Path

from engine.commands.apply import record_releases
from engine.commands.result import (
    Progress,
    SchoolResult,
    apply_command,
    finish_school,
    for_school,
    plan_exit_code,
    plan_message,
    render_report,
)
from engine.config.school import SchoolConfig
from engine.events import heartbeat
from engine.pipeline import Options, Run, prepare
from engine.plan.diff import Change, diff
from engine.plan.guards import find_guards
from engine.plan.plan import Plan, PlanFiles, build_plan, write_plan
from engine.plan.reconcile import reconcile
from engine.plan.rejections import skip_known_rejections
from engine.records import Record


def plan_school(school: SchoolConfig, options: Options) -> SchoolResult:
    """`bromsync plan` for one school: writes the plan files, pushes nothing."""
    return finish_school(for_school(school, options, "plan", _plan_only), options)


def compute_plan(run: Run) -> tuple[Plan, dict[str, Record]]:
    """Fetch, map, stage, check and diff one school; the plan, and who is who for its report.

    Writes the run's raw rows, records and check results to its state; pushes nothing. The
    second value maps every mis_id the plan may name (today's records, held ones included,
    and the baseline) to its record, so the report can name people.
    """
    school, state = run.config, run.state
    prepared = prepare(run)
    memory = state.uploaded()
    live = None if run.options.offline else _parentpay_now(run)
    seen = reconcile(school, prepared.records, memory, live, held=prepared.held)
    if seen.hits:
        state.save_checks(run.run_id, seen.hits)
        state.mark_held(run.run_id, seen.held)
    state.adopt(run.run_id, seen.adopted)
    held = prepared.held | seen.held
    records = [r for r in prepared.records if r["mis_id"] not in held]
    changes, summary = diff(records, seen.baseline, types=prepared.types, held=held)
    changes = [_with_reason(c, seen.drifted) for c in changes]
    changes, refused = skip_known_rejections(changes, summary, state.rejections())
    results = prepared.results
    guards = find_guards(
        school,
        consent={t.type: (len(t.records), t.no_consent) for t in results},
        summary=summary,
        changes=changes,
        baseline=seen.baseline,
        released=run.options.released_guards,
    )
    plan = build_plan(
        school=school,
        run_id=run.run_id,
        today=run.today.isoformat(),
        baseline_id=state.baseline_id(),
        changes=changes,
        summary=summary,
        checks=[*prepared.hits, *seen.hits, *refused],
        no_consent=sum(t.no_consent for t in results),
        no_consent_records=[r for t in results for r in t.no_consent_records],
        left_out={t.type: t.left_out for t in results},
        guards=guards,
        drift=seen.drift,
        unmanaged=None if live is None else seen.unmanaged,
        adopted=[r["mis_id"] for r in seen.adopted],
    )
    people: dict[str, Record] = {
        **{r["mis_id"]: r for t in results for r in t.no_consent_records},
        **(live or {}),
        **memory,
        **{r["mis_id"]: r for t in results for r in t.records},
    }
    run.say("plan", f"{len(changes)} changes" + (" (blocked)" if plan.blocked else ""))
    return plan, people


def _parentpay_now(run: Run) -> dict[str, Record]:
    """The site's people as ParentPay holds them now: one read per school run."""
    with (
        closing(run.options.open_target(run.config)) as target,
        heartbeat(lambda text: run.say("plan", text), "ParentPay's list of the site's people"),
    ):
        people = target.people(run.config.parentpay_site_id, status="all")
    run.say("plan", f"ParentPay holds {len(people)} records for the site")
    return {p["mis_id"]: p for p in people}


def _with_reason(change: Change, drifted: set[tuple[str, str]]) -> Change:
    """Mark a change that puts back what was changed in ParentPay by hand (drift: restore)."""
    names = ("status",) if change.op in ("create", "restore", "archive") else tuple(change.fields)
    if any((change.mis_id, n) in drifted for n in names):
        return dataclasses.replace(change, reason="drift")
    return change


def write_plan_files(
    plan: Plan,
    people: dict[str, Record],
    out_dir: Path,
    options: Options,
    *,
    outcome: str | None = None,
) -> PlanFiles:
    """The plan's JSON, and its report (built once) as Markdown and as a self-contained page.

    The report's footer gives the `apply` command for the plan as typed from here; `outcome`
    (from `run`) says what became of the plan instead.
    """
    command = apply_command(out_dir / f"{plan.urn}.plan.json", options)
    markdown, html = render_report(
        plan, people, show_sensitive=options.show_sensitive, apply=command, outcome=outcome
    )
    return write_plan(plan, out_dir, markdown=markdown, html=html)


def _plan_only(run: Run, progress: Progress) -> SchoolResult:
    plan, people = compute_plan(run)
    progress.plan, progress.people = plan, people
    # A plan made with --allow-mass-* is not blocked, so `apply` pushes it without a flag: the
    # release is this command's, and recorded now.
    record_releases(run, plan, [g for g in plan.guards if g.released], command="plan")
    out_dir = run.options.out_dir or Path("plans")
    files = write_plan_files(plan, people, out_dir, run.options)
    return SchoolResult(
        run.school.name,
        run.school.urn,
        plan_exit_code(plan),
        plan_message(plan),
        plan=plan,
        plan_files=files,
        people=people,
    )
