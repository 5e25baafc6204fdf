"""`bromsync run` for one school: plan, then apply unless a guard blocked it."""

from __future__ import annotations

from engine.commands.apply import push_plan, record_releases
from engine.commands.plan import compute_plan, write_plan_files
from engine.commands.result import SchoolResult, for_school, note_held, plan_message
from engine.config.school import SchoolConfig
from engine.errors import ExitCode
from engine.pipeline import Options, Run


def run_school(school: SchoolConfig, options: Options) -> SchoolResult:
    """Plan the school and push the plan unless a guard blocked it."""
    return for_school(school, options, "run", _plan_and_apply)


def _plan_and_apply(run: Run) -> SchoolResult:
    plan, people = compute_plan(run)
    out_dir, show = run.options.out_dir, run.options.show_sensitive
    files = write_plan_files(plan, people, out_dir, show_sensitive=show) if out_dir else None
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
        )
    # The plan file is written before the push, so a push cut off can be finished with apply.
    result = push_plan(run, plan, plan_file=files.json if files else None)
    result.plan_files = files
    note_held(result, plan)
    return result
