"""`bromsync apply PLANFILE`: push exactly a reviewed plan, if it is still current."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from engine.commands.result import SchoolResult, log_result, note_held
from engine.errors import BlockedPlanError, ExitCode, PlanError
from engine.pipeline import Options, PlanSchool, Run, open_run
from engine.plan.diff import apply_change
from engine.plan.plan import Plan, read_plan
from engine.records import OpResult, Record
from engine.state.store import State, state_path
from engine.targets.push import push_and_acknowledge


def apply_plan(plan_path: Path, options: Options) -> SchoolResult:
    """`bromsync apply`: push exactly the plan in `plan_path`, if it is still current."""
    plan = read_plan(plan_path)
    if plan.blocked:
        raise BlockedPlanError(
            f"{plan_path} is blocked ({plan.blocked_reason}); nothing was pushed. "
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
    with open_run(PlanSchool(plan.name, plan.urn), options, "apply") as run:
        result = push_plan(run, plan)
        note_held(result, plan)
        log_result(run, result)
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


def push_plan(run: Run, plan: Plan) -> SchoolResult:
    """Push the plan's operations, recording each acknowledged batch as it comes back."""
    operations = plan.operations()
    changes = plan.changes()
    if not operations:
        return SchoolResult(
            plan.name, plan.urn, ExitCode.OK, "nothing to push: ParentPay is up to date", plan=plan
        )
    known = run.state.uploaded()

    def new_state(result: OpResult) -> Record:
        change = changes[result["index"]]
        known[change.mis_id] = apply_change(known.get(change.mis_id), change)
        return known[change.mis_id]

    def progress(batch: int, batches: int, results: list[OpResult]) -> None:
        applied = sum(1 for r in results if r["status"] == "applied")
        run.say("push", f"batch {batch + 1}/{batches}: {applied} applied")

    with closing(run.options.open_target()) as target:
        pushed = push_and_acknowledge(
            target,
            run.state,
            site_id=plan.site_id,
            operations=operations,
            key_prefix=f"bromsync-{plan.urn}-{plan.digest[:24]}",
            run_id=run.run_id,
            digest=plan.digest,
            new_state=new_state,
            on_batch=progress,
        )
    rejected = [r for r in pushed.results if r["status"] == "rejected"]
    message = f"{pushed.applied} applied" + (
        f", {len(rejected)} rejected by ParentPay" if rejected else ""
    )
    code = ExitCode.INCOMPLETE if rejected else ExitCode.OK
    return SchoolResult(
        plan.name, plan.urn, code, message, plan=plan, applied=pushed.applied, rejected=rejected
    )
