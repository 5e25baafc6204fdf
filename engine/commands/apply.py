"""`bromsync apply PLANFILE`: push exactly a reviewed plan, if it is still current.

A plan whose push was cut off (a crash, a kill, ParentPay down) is finished: the batches
ParentPay acknowledged are not sent again, the others are sent with the keys they had, so a
batch ParentPay applied but whose answer was lost gets its first answer back, applied once.
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from engine.commands.result import (
    Invocation,
    Progress,
    SchoolResult,
    apply_command,
    failed,
    finish_school,
    log_result,
    note_held,
    timed,
)
from engine.config.environment import smtp_url
from engine.config.school import SchoolConfig
from engine.digest import digest
from engine.errors import BlockedPlanError, BromsyncError, ExitCode, PlanError, TargetError
from engine.events import heartbeat
from engine.pipeline import Options, PlanSchool, Run, open_run
from engine.plan.diff import apply_change
from engine.plan.guards import RELEASE_FLAGS, GuardHit, blocked_reason, blocking
from engine.plan.plan import Plan, read_plan
from engine.records import OpResult, Record
from engine.state.store import PlanUploads, State, state_path
from engine.targets import Target
from engine.targets.push import push_and_acknowledge


def apply_plan(plan_path: Path, options: Options) -> SchoolResult:
    """`bromsync apply`: push exactly the plan in `plan_path`, or finish it if it was cut off."""
    smtp_url()  # apply will send the results message: a password in its URL is refused first
    plan = read_plan(plan_path)
    if plan.offline:
        raise PlanError(
            f"{plan_path} was planned with --offline, against bromsync's memory alone, so it "
            "may not be what ParentPay needs now; nothing was pushed. Run `bromsync plan` "
            "without --offline, review that plan, then apply it."
        )
    released = _released(plan_path, plan, options.released_guards)
    path = state_path(options.state_dir, plan.urn)
    if not path.exists():
        raise PlanError(
            f"no state for URN {plan.urn} in {options.state_dir}: apply must use the state folder "
            "the plan was made with (--state-dir or BROMSYNC_STATE_DIR). Nothing was pushed."
        )
    with State(path) as state:
        current = state.baseline_id()
        done = state.plan_uploads(plan.digest)
    skip = _acknowledged(plan_path, plan, current, done)
    with open_run(PlanSchool(plan.name, plan.urn), options, "apply") as run:
        record_releases(run, plan, released, command=f"apply {plan_path}")
        result = push_plan(run, plan, skip_batches=skip, plan_file=plan_path)
        result.released = bool(released)
        note_held(result, plan)
        log_result(run, result)
    result.state = path
    return result


def _released(plan_path: Path, plan: Plan, given: Collection[str]) -> list[GuardHit]:
    """The guards this apply lifts: a blocked plan goes only with the flag of each guard that
    blocks it (docs/cli.md), and one the consent guard blocks never goes."""
    if not plan.blocked:
        return []
    flags = plan.release_flags()
    guards = blocking(plan.guards)
    if flags is None:
        why = (
            "no flag lifts it: fix the cause and make a new plan"
            if guards
            else "it does not say which guards blocked it (an older bromsync wrote it): make a "
            "new plan with `bromsync plan FILE --out DIR` and review that"
        )
        raise BlockedPlanError(
            f"{plan_path} is blocked, and {why}; nothing was pushed. Why it is blocked: "
            f"{plan.blocked_reason}"
        )
    missing = [g for g in guards if g.guard not in given]
    if missing:
        lacking = sorted({str(g.flag) for g in missing})
        also = f" ({' and '.join(lacking)} was not given)" if given else ""
        step = (
            f"If the change is real and you have reviewed this plan and its report, push exactly "
            f"this plan with `bromsync apply {plan_path} {' '.join(flags)}`{also}."
        )
        raise BlockedPlanError(
            f"{plan_path} is blocked; nothing was pushed: {blocked_reason(guards, step)}"
        )
    return guards


def released_by() -> str:
    """Who lifts a guard, for the state's guard_releases: the OS user at this machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment or the password database
        user = "unknown user"
    return f"{user}@{socket.gethostname()}"


def record_releases(run: Run, plan: Plan, guards: Sequence[GuardHit], *, command: str) -> None:
    """Record in the state that `command` lifted these guards of this plan, and say so."""
    if not guards:
        return
    flags = [f for g, f in RELEASE_FLAGS.items() if any(h.guard == g for h in guards)]
    run.state.record_guard_releases(
        run_id=run.run_id,
        plan_digest=plan.digest,
        urn=plan.urn,
        guards=[g.to_json() for g in guards],
        released_by=released_by(),
        command=" ".join([command, *flags]),
    )
    lifted = "; ".join(g.message for g in guards)
    run.say("guard", f"lifted by {' '.join(flags)} after review ({lifted})")


def _acknowledged(
    plan_path: Path, plan: Plan, current: str | None, done: PlanUploads | None
) -> frozenset[int]:
    """The plan's batches already acknowledged, to skip; a plan that cannot go is refused."""
    if done is None:
        if current != plan.baseline:
            raise PlanError(_stale(plan_path, plan, current))
        return frozenset()
    if done.operations >= len(plan.operations()):
        raise PlanError(
            f"{plan_path} was already applied on {done.first_at} (upload {current}); nothing was "
            "pushed again. Run `bromsync plan` for what has changed since."
        )
    if not done.latest or done.before != plan.baseline:
        raise PlanError(
            f"{plan_path} was partly applied on {done.first_at} ({done.operations} of "
            f"{len(plan.operations())} operations), but ParentPay has since acknowledged upload "
            f"{current} of another plan, so the rest of it is stale. Nothing was pushed; run "
            "`bromsync plan` again and review the new plan."
        )
    return done.batches


def _stale(plan_path: Path, plan: Plan, current: str | None) -> str:
    before = plan.baseline or "none: the first upload"
    return (
        f"{plan_path} is stale: it was planned against upload {before}, but ParentPay has since "
        f"acknowledged upload {current}. Nothing was pushed; run `bromsync plan` again and review "
        "the new plan."
    )


def key_prefix(plan: Plan, operations: Sequence[dict[str, Any]]) -> str:
    """The Idempotency-Key of the plan's batches, less the batch number the client adds.

    It depends only on what the push sends (site, baseline, the operations in order), never on
    the run: the same batch of the same content is the same upload, whichever run sends it.
    """
    content = digest(
        {"site_id": plan.site_id, "baseline": plan.baseline, "operations": list(operations)}
    )
    return f"bromsync-{plan.urn}-{content[:24]}"


def push_plan(
    run: Run,
    plan: Plan,
    *,
    skip_batches: Collection[int] = (),
    plan_file: Path | None = None,
) -> SchoolResult:
    """Push the plan's operations, recording each acknowledged batch as it comes back.

    `skip_batches` are batches ParentPay already acknowledged (a push that was cut off);
    `plan_file` is where the plan is written, so a failure can say how to finish it.
    """
    operations = plan.operations()
    changes = plan.changes()
    if not operations:
        # Never "up to date" while checks hold records back: note_held counts them.
        message = "nothing to push" + ("" if plan.holds_back else ": ParentPay is up to date")
        return SchoolResult(plan.name, plan.urn, ExitCode.OK, message, plan=plan)
    known = run.state.uploaded()

    def new_state(result: OpResult) -> Record:
        change = changes[result["index"]]
        known[change.mis_id] = apply_change(known.get(change.mis_id), change)
        return known[change.mis_id]

    def progress(batch: int, batches: int, results: list[OpResult]) -> None:
        applied = sum(1 for r in results if r["status"] == "applied")
        run.say("push", f"batch {batch + 1}/{batches}: {applied} applied")

    def waiting(seconds: float, why: str) -> None:
        run.say("push", why)

    if skip_batches:
        done = ", ".join(str(b + 1) for b in sorted(skip_batches))
        run.say("push", f"finishing a push that was cut off: batches {done} were acknowledged")
    try:
        school = run.school if isinstance(run.school, SchoolConfig) else None
        with (
            closing(run.options.open_target(school)) as target,
            heartbeat(lambda text: run.say("push", text), "ParentPay to acknowledge the push"),
        ):
            pushed = push_and_acknowledge(
                target,
                run.state,
                site_id=plan.site_id,
                operations=operations,
                key_prefix=key_prefix(plan, operations),
                run_id=run.run_id,
                digest=plan.digest,
                new_state=new_state,
                on_batch=progress,
                skip_batches=skip_batches,
                on_wait=waiting,
            )
            rejected = [r for r in pushed.results if r["status"] == "rejected"]
            now = _parentpay_after(run, target, plan, rejected)
    except TargetError as err:
        err.message += "; " + _how_to_finish(plan_file, run.options)
        err.args = (err.message,)
        raise
    message = f"{pushed.applied} applied" + (
        f", {len(rejected)} rejected by ParentPay" if rejected else ""
    )
    if skip_batches:
        message += (
            f" (finishing a push that was cut off: {len(skip_batches)} "
            f"batch{'es' if len(skip_batches) > 1 else ''} acknowledged before were not sent again)"
        )
    code = ExitCode.INCOMPLETE if rejected else ExitCode.OK
    return SchoolResult(
        plan.name,
        plan.urn,
        code,
        message,
        plan=plan,
        applied=pushed.applied,
        rejected=rejected,
        operations=list(pushed.results),
        parentpay_now=now,
    )


def _parentpay_after(
    run: Run, target: Target, plan: Plan, rejected: Sequence[OpResult]
) -> dict[str, Record] | None:
    """What ParentPay holds now, read once and only to explain `conflict` and `not_found`
    rejections (what the record is now); None when there are none or the read fails."""
    if not any(r.get("code") in ("conflict", "not_found") for r in rejected):
        return None
    try:
        people = target.people(plan.site_id, status="all")
    except TargetError as exc:
        run.say("push", f"could not read ParentPay to explain the rejections: {exc}")
        return None
    return {p["mis_id"]: p for p in people}


def _how_to_finish(plan_file: Path | None, options: Options) -> str:
    if plan_file is not None:
        return (
            f"the plan can be finished with `{apply_command(plan_file, options)}` (what "
            "ParentPay acknowledged is not sent again)"
        )
    return (
        "run `bromsync run` again to finish: it sends only what ParentPay has not acknowledged "
        "(or give `run --out DIR` to keep the plan, and finish it with `bromsync apply`)"
    )


def apply_school(plan_path: Path, options: Options) -> SchoolResult:
    """`bromsync apply` of one plan file, finished: timed, named, its results written and sent.

    A plan that cannot be applied (stale, blocked, already applied) is that school's result
    with the reason. A file that is not a readable plan names no school: PlanError (exit 2).
    """
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    plan = read_plan(plan_path)
    try:
        result = apply_plan(plan_path, options)
    except BromsyncError as exc:
        result = failed(plan.name, plan.urn, exc, Progress(plan=plan))
    result.plan = result.plan or plan
    notify = plan.data.get("notify") or {}
    result.notify_email = tuple(notify.get("email", ()))
    result.notify_when = str(notify.get("when", "problems"))
    result.people = {**_named(result.state or state_path(options.state_dir, plan.urn), plan),
                     **result.people}  # fmt: skip
    result.command, result.started_at = "apply", started
    result.seconds = time.perf_counter() - clock
    return finish_school(result, options)


def _named(path: Path, plan: Plan) -> dict[str, Record]:
    """Who is who for a plan's results: the records of the run that made it, and what
    ParentPay was last told (an apply has no school file and no fresh fetch)."""
    if not path.exists():
        return {}
    try:
        with State(path, read_only=True) as state:
            return {**state.uploaded(), **state.run_records(plan.data.get("run_id", ""))}
    except BromsyncError:
        return {}


def apply_files(
    plan_paths: Sequence[Path],
    options: Options,
    on_result: Callable[[SchoolResult], None] | None = None,
) -> Invocation:
    """`bromsync apply PLANFILE...`: each plan in turn, each told to `on_result` as it is done;
    `<DIR>/run-results.json` covers them all and the exit codes combine as `run`'s do.

    A file that is not a readable plan is a usage error: PlanError (exit 2) naming every such
    file, before any plan is pushed.
    """
    problems = []
    for path in plan_paths:
        try:
            read_plan(path)
        except PlanError as exc:
            problems.append(str(exc))
    if problems:
        if len(problems) == 1:
            raise PlanError(problems[0])
        raise PlanError("nothing was pushed:\n" + "\n".join(problems))

    def work() -> list[SchoolResult]:
        results = []
        for path in plan_paths:
            results.append(apply_school(path, options))
            if on_result is not None:
                on_result(results[-1])
        return results

    return timed("apply", options, work)
