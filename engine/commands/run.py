"""`bromsync run` for one school: plan, then apply unless a guard blocked it."""

from __future__ import annotations

from engine.commands.apply import push_plan, record_releases
from engine.commands.plan import compute_plan, write_plan_files
from engine.commands.result import (
    Progress,
    SchoolResult,
    finish_school,
    for_school,
    note_held,
    plan_message,
    results_files,
    shown_path,
)
from engine.config.school import SchoolConfig
from engine.errors import ExitCode
from engine.pipeline import Options, Run


def run_school(school: SchoolConfig, options: Options) -> SchoolResult:
    """Plan the school and push the plan unless a guard blocked it; write its results."""
    return finish_school(for_school(school, options, "run", _plan_and_apply), options)


def _plan_and_apply(run: Run, progress: Progress) -> SchoolResult:
    plan, people = compute_plan(run)
    progress.plan, progress.people = plan, people
    out_dir = run.options.out_dir
    files = None
    if out_dir:
        # Rewritten once the push is done (finish_school), to say what became of the plan.
        results = shown_path(results_files(out_dir, plan.urn).markdown)
        pushing = f"`bromsync run` is pushing this plan now; `{results}` says what happened."
        files = write_plan_files(plan, people, out_dir, run.options, outcome=pushing)
    progress.plan_files = files
    # Recorded even when another guard still blocks the plan: its file (--out) can be applied
    # later with that guard's flag alone, and this release is then part of what was pushed.
    record_releases(run, plan, [g for g in plan.guards if g.released], command="run")
    if plan.blocked:
        return SchoolResult(
            plan.name,
            plan.urn,
            ExitCode.INCOMPLETE,
            plan_message(plan),
            plan=plan,
            plan_files=files,
            people=people,
        )
    # The plan file is written before the push, so a push cut off can be finished with apply.
    result = push_plan(run, plan, plan_file=files.json if files else None)
    result.plan_files, result.people = files, people
    note_held(result, plan)
    return result
