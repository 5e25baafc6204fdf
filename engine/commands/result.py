"""What happened to one school, as every verb that plans or pushes reports it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.config.school import SchoolConfig
from engine.errors import BromsyncError, ExitCode
from engine.pipeline import Options, Run, open_run
from engine.plan.plan import Plan, PlanFiles, summary_line
from engine.records import OpResult
from engine.state.store import state_path


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


def for_school(
    school: SchoolConfig, options: Options, command: str, body: Callable[[Run], SchoolResult]
) -> SchoolResult:
    """Run `body` as one recorded run of `command`; an expected error fails this school alone."""
    path = state_path(options.state_dir, school.urn)
    try:
        with open_run(school, options, command) as run:
            result = body(run)
            log_result(run, result)
    except BromsyncError as exc:
        return SchoolResult(school.name, school.urn, exc.exit_code, str(exc), error=exc, state=path)
    result.state = path
    return result


def log_result(run: Run, result: SchoolResult) -> None:
    """What the run's row in `runs` says of it."""
    log = run.log
    log.status = {0: "ok", 3: "incomplete"}.get(int(result.exit_code), "failed")
    log.message = result.message
    if result.plan is not None:
        plan = result.plan
        log.baseline, log.plan_digest, log.summary = plan.baseline, plan.digest, plan.summary


def plan_exit_code(plan: Plan) -> ExitCode:
    """3 when a guard blocked the plan or checks held records back, else 0."""
    return ExitCode.INCOMPLETE if plan.blocked or plan.holds_back else ExitCode.OK


def plan_message(plan: Plan) -> str:
    if plan.blocked:
        return f"blocked: {plan.blocked_reason}"
    return summary_line(plan.summary) + held_message(plan)


def held_message(plan: Plan) -> str:
    held = len(plan.held_back())
    return f"; {held} held back by checks (see the plan's report)" if held else ""


def note_held(result: SchoolResult, plan: Plan) -> None:
    """Records the plan's checks held back did not go either: exit 3 (docs/cli.md)."""
    if result.exit_code == ExitCode.OK and plan_exit_code(plan) == ExitCode.INCOMPLETE:
        result.exit_code = ExitCode.INCOMPLETE
        result.message += held_message(plan)
