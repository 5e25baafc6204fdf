"""What happened to one school, as every verb that plans or pushes reports it.

`for_school` runs one school's command and times it; `finish_school` then turns the result into
its Outcome (engine/report/results.py), which the terminal prints, and, for `run` and `apply`,
writes `<DIR>/<urn>.results.json` and `.results.md` and sends the results message to the
school's `notify.email` (docs/results.md).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine import __version__
from engine.config.school import SchoolConfig
from engine.errors import BromsyncError, ExitCode, NotifyError
from engine.pipeline import Options, Run, open_run
from engine.plan.plan import Plan, PlanFiles, summary_line
from engine.records import OpResult, Record
from engine.report.content import build_report
from engine.report.html import render_html
from engine.report.markdown import render_markdown
from engine.report.message import results_message
from engine.report.results import (
    Outcome,
    build_outcome,
    dumps,
    render_results_markdown,
    report_note,
    results_json,
    run_results_json,
)
from engine.state.store import state_path
from engine.targets import PushResult

PUSHING = ("run", "apply")  # the verbs that write results files and send results messages


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
    operations: list[OpResult] = field(default_factory=list)  # ParentPay's answer to each op
    people: dict[str, Record] = field(default_factory=dict)  # who is who, to name records
    parentpay_now: dict[str, Record] | None = None  # read after conflicts, to explain them
    command: str = "run"
    school_file: Path | None = None
    notify_email: tuple[str, ...] = ()
    notify_when: str = "problems"
    started_at: dt.datetime | None = None
    seconds: float = 0.0
    outcome: Outcome | None = None  # set by finish_school
    released: bool = False  # a blocked plan pushed after review, its guards lifted by apply's flags


@dataclass
class Progress:
    """How far a school's command got, so a later failure still reports its plan."""

    plan: Plan | None = None
    people: dict[str, Record] = field(default_factory=dict)
    plan_files: PlanFiles | None = None


def for_school(
    school: SchoolConfig,
    options: Options,
    command: str,
    body: Callable[[Run, Progress], SchoolResult],
) -> SchoolResult:
    """Run `body` as one recorded run of `command`; an expected error fails this school alone."""
    path = state_path(options.state_dir, school.urn)
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    progress = Progress()
    try:
        with open_run(school, options, command) as run:
            result = body(run, progress)
            log_result(run, result)
    except BromsyncError as exc:
        result = failed(school.name, school.urn, exc, progress)
    result.state = path
    result.people = result.people or progress.people
    result.command, result.school_file = command, school.path
    result.notify_email, result.notify_when = school.notify_email, school.notify_when
    result.started_at, result.seconds = started, time.perf_counter() - clock
    return result


def failed(
    name: str, urn: int | None, exc: BromsyncError, progress: Progress | None = None
) -> SchoolResult:
    """The result of a school an error stopped, with what it had done before."""
    progress = progress or Progress()
    result = SchoolResult(
        name,
        urn,
        exc.exit_code,
        str(exc),
        error=exc,
        plan=progress.plan,
        plan_files=progress.plan_files,
        people=progress.people,
    )
    partial = getattr(exc, "partial", None)
    if isinstance(partial, PushResult):  # the batches ParentPay acknowledged before the failure
        result.operations = list(partial.results)
        result.applied = partial.applied
        result.rejected = [r for r in partial.results if r["status"] == "rejected"]
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
    return f"; {held} held back by checks" if held else ""


def note_held(result: SchoolResult, plan: Plan) -> None:
    """Records the plan's checks held back did not go either: exit 3 (docs/cli.md), and the
    message says how many, whatever else it says (rejections included)."""
    if plan_exit_code(plan) == ExitCode.INCOMPLETE and (not plan.blocked or result.released):
        if result.exit_code == ExitCode.OK:
            result.exit_code = ExitCode.INCOMPLETE
        result.message += held_message(plan)


def shown_path(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def apply_command(plan_file: Path, options: Options) -> str:
    """`bromsync apply PLANFILE` as it works from here, with --state-dir when apply would not
    find the state folder by itself (BROMSYNC_STATE_DIR, else ./state)."""
    words = ["bromsync", "apply", shown_path(plan_file)]
    default = Path(os.environ.get("BROMSYNC_STATE_DIR") or "state")
    if options.state_dir.resolve() != default.resolve():
        words += ["--state-dir", shown_path(options.state_dir)]
    return shlex.join(words)


def render_report(
    plan: Plan,
    people: dict[str, Record],
    *,
    show_sensitive: bool,
    apply: str | None,
    outcome: str | None = None,
) -> tuple[str, str]:
    """The plan's report, built once, as Markdown and as a self-contained HTML page."""
    report = build_report(
        plan, people=people, show_sensitive=show_sensitive, apply_command=apply, outcome=outcome
    )
    return render_markdown(report), render_html(report)


@dataclass(frozen=True)
class ResultsFiles:
    json: Path
    markdown: Path


def results_files(out_dir: Path, urn: int) -> ResultsFiles:
    return ResultsFiles(out_dir / f"{urn}.results.json", out_dir / f"{urn}.results.md")


def _write_private(path: Path, text: str) -> None:
    """Results name children: readable by their owner only (docs/personal-data.md)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def fail_with(error: BromsyncError) -> Callable[[Run, Progress], SchoolResult]:
    """A school's run that fails at once with `error`, so the failure is in its state too."""

    def body(run: Run, progress: Progress) -> SchoolResult:
        raise error

    return body


def finish_school(result: SchoolResult, options: Options) -> SchoolResult:
    """The school's Outcome; for run and apply, its results files and its results message.

    A message that cannot be sent is reported in the outcome (and so in the output and the
    results JSON); it never changes the exit code.
    """
    files: dict[str, str] = {}
    if result.plan_files is not None:
        pf = result.plan_files
        files |= {"plan": shown_path(pf.json), "report": shown_path(pf.markdown),
                  "report_html": shown_path(pf.html)}  # fmt: skip
    written = None
    if result.command in PUSHING and options.out_dir is not None and result.urn is not None:
        written = results_files(options.out_dir, result.urn)
        files |= {
            "results_md": shown_path(written.markdown),
            "results_json": shown_path(written.json),
        }
    outcome = build_outcome(
        command=result.command,
        school=result.name,
        urn=result.urn,
        exit_code=result.exit_code,
        message=result.message,
        school_file=None if result.school_file is None else shown_path(result.school_file),
        started_at=result.started_at,
        seconds=result.seconds,
        plan=result.plan,
        people=result.people,
        results=result.operations or result.rejected,
        parentpay_now=result.parentpay_now,
        error=result.error,
        files=files,
        released=result.released,
    )
    result.outcome = outcome
    if result.command not in PUSHING:
        return result
    if result.command == "run" and result.plan is not None and result.plan_files is not None:
        markdown, html = render_report(
            result.plan,
            result.people,
            show_sensitive=options.show_sensitive,
            apply=None,
            outcome=report_note(outcome),
        )
        _write_private(result.plan_files.markdown, markdown)
        _write_private(result.plan_files.html, html)
    if result.notify_email:
        outcome.notification = _notify(outcome, result, options)
    if written is not None:
        _write_private(
            written.markdown,
            render_results_markdown(outcome, show_sensitive=options.show_sensitive),
        )
        _write_private(written.json, dumps(results_json(outcome)))
    return result


def _notify(outcome: Outcome, result: SchoolResult, options: Options) -> dict[str, object]:
    to = list(result.notify_email)
    note: dict[str, object] = {"to": to, "when": result.notify_when, "sent": False, "error": None}
    if result.notify_when == "problems" and not outcome.problem:
        note["skipped"] = "nothing went wrong, and notify.when is problems"
        return note
    if options.smtp is None:
        note["error"] = (
            "notify.email is set but BROMSYNC_SMTP_URL is not, so no results message was sent"
        )
        return note
    from engine.notify import send_message  # smtplib, for the schools that send a message

    message = results_message(outcome, sender=options.smtp.sender, to=to)
    try:
        send_message(options.smtp, message)
    except NotifyError as exc:
        note["error"] = f"the results message to {', '.join(to)} was not sent: {exc}"
        return note
    note["sent"] = True
    return note


def school_outcome(result: SchoolResult, options: Options) -> Outcome:
    """The result's Outcome, finishing the school first if nobody has."""
    if result.outcome is None:
        finish_school(result, options)
    assert result.outcome is not None
    return result.outcome


@dataclass
class Invocation:
    """One command over one or more schools: every result, timed, with its run-results file."""

    command: str
    results: list[SchoolResult]
    seconds: float
    run_results: Path | None = None

    @property
    def exit_code(self) -> ExitCode:
        """The combined exit code: 2 outranks 1, which outranks 3, which outranks 0."""
        return ExitCode.worst(r.exit_code for r in self.results)

    @property
    def outcomes(self) -> list[Outcome]:
        return [r.outcome for r in self.results if r.outcome is not None]


def finish_invocation(
    command: str,
    results: list[SchoolResult],
    options: Options,
    started: dt.datetime,
    seconds: float,
) -> Invocation:
    """The invocation, with `<DIR>/run-results.json` written for `run` and `apply`."""
    done = Invocation(command, results, seconds)
    if command in PUSHING and options.out_dir is not None:
        data = run_results_json(
            done.outcomes,
            command=command,
            version=__version__,
            invocation_id=str(uuid.uuid4()),
            started_at=started,
            seconds=seconds,
            exit_code=done.exit_code,
        )
        done.run_results = options.out_dir / "run-results.json"
        _write_private(done.run_results, dumps(data))
    return done


def timed(command: str, options: Options, work: Callable[[], list[SchoolResult]]) -> Invocation:
    """Run `work` (every school of one command) and finish the invocation it makes."""
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    results = work()
    return finish_invocation(command, results, options, started, time.perf_counter() - clock)
