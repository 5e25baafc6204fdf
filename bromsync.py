"""bromsync: sync pupils, staff and pre-admissions from Bromcom to ParentPay.

The command line only: each command parses its arguments, calls one engine function and
renders the result. The engine never prints; it reports through events and result objects.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine import __version__
from engine.errors import BromsyncError, ConfigError, ExitCode
from engine.events import Event
from engine.files import restrict_umask
from engine.secrets import scrub_known

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _state_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("BROMSYNC_STATE_DIR") or "state")


# Messages are scrubbed (engine.secrets.scrub_known) once more on their way out: of every
# password and token this process has read, in every encoding, should one have slipped in.


def _echo_event(event: Event) -> None:
    click.echo(scrub_known(f"  {event.school} · {event.stage}: {event.message}"), err=True)


def _fail(error: BromsyncError) -> int:
    click.secho(scrub_known(f"error: {error}"), fg="red", err=True)
    return error.exit_code


def _guarded(body: Callable[[], int]) -> int:
    """The one error boundary: expected errors as a message, unexpected ones to a log file."""
    try:
        return body()
    except BromsyncError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return ExitCode.INTERRUPTED
    except Exception:  # noqa: BLE001 - the boundary is meant to catch everything
        name = _crash_log()
        click.secho(
            f"bromsync failed unexpectedly; the traceback was written to {name}. "
            "Please send that file to the bromsync maintainers.",
            fg="red",
            err=True,
        )
        return ExitCode.FAILED


def _returns_code(func: Callable[..., int]) -> Callable[..., None]:
    """Run a command's body inside the error boundary and exit with the code it returns."""

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> None:
        sys.exit(_guarded(lambda: func(*args, **kwargs)))

    return command


# Options several commands share, declared once.
STATE_DIR = click.option(
    "--state-dir",
    help="Where each school's DuckDB state lives [env BROMSYNC_STATE_DIR, default ./state].",
)
SHOW_SENSITIVE = click.option(
    "--show-sensitive",
    is_flag=True,
    help="Show dietary and free-meal values in the reports (masked as *** by default).",
)
RECORD = click.option(
    "--record",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Save Bromcom's raw responses here (credentials scrubbed), to replay with "
    "`bromsync simulate bromcom --replay`.",
)
FETCH_JOBS = click.option(
    "--fetch-jobs",
    default=4,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Bromcom entities fetched at once for one school.",
)
ALLOW_MASS_ARCHIVE = click.option(
    "--allow-mass-archive",
    is_flag=True,
    help="After review: lift the archive guard (many records of a type archived at once).",
)
ALLOW_MASS_BLANK = click.option(
    "--allow-mass-blank",
    is_flag=True,
    help="After review: lift the blank guard (one field emptied for many records of a type).",
)


def _timeout_option(service: str, what: str, default: int) -> Callable[..., Any]:
    """--<service>-timeout: outranks the school file's timeouts.<service>_seconds."""
    return click.option(
        f"--{service}-timeout",
        type=click.FloatRange(1, 3600),
        default=None,
        metavar="SECONDS",
        help=f"Wait this long for each {what} [default: the school file's "
        f"timeouts.{service}_seconds, else {default}].",
    )


BROMCOM_TIMEOUT = _timeout_option("bromcom", "Bromcom answer before trying again (3 tries)", 300)
PARENTPAY_TIMEOUT = _timeout_option("parentpay", "ParentPay answer", 60)
PORT = click.option(
    "--port", default=0, show_default=True, help="Port to listen on (0: any free port)."
)


def _crash_log() -> str:
    """Write the traceback as a bug report (version, platform, command) and return its path."""
    fd, name = tempfile.mkstemp(prefix="bromsync-crash-", suffix=".log")
    report = (
        f"bromsync {__version__}\n"
        f"python {platform.python_version()} on {platform.platform()}\n"
        f"command: bromsync {' '.join(sys.argv[1:])}\n\n"
        f"{traceback.format_exc()}"
    )
    with os.fdopen(fd, "w", encoding="utf-8") as log:
        # It is sent to the maintainers: no secret this process has read goes with it.
        log.write(scrub_known(report))
    return name


@click.group(context_settings=CONTEXT)
@click.version_option(version=__version__, prog_name="bromsync")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Sync pupils, staff and pre-admissions from the Bromcom MIS to ParentPay.

    Each school is a YAML file (see schools/ and README.md). `plan` shows what would change,
    `apply` pushes a reviewed plan, `run` does both. State lives in BROMSYNC_STATE_DIR
    (default ./state), one DuckDB file per school. Colours are left out when the output is
    not a terminal, or when NO_COLOR is set.
    """
    if os.environ.get("NO_COLOR"):  # https://no-color.org: set and not empty
        ctx.color = False  # every command's context inherits it, and so every echo
    # Everything bromsync writes holds children's data: owner-only, including the files that
    # DuckDB and the simulators make themselves (docs/personal-data.md).
    restrict_umask()


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_returns_code
def validate(files: tuple[Path, ...]) -> int:
    """Check school files, mappings and check packs; print every problem as path:line:col: message.

    For each school file, the mappings of its upload options and the check packs are checked
    too. Exit 0 when everything is valid, 2 otherwise.
    """
    from engine.commands.validate import validate_files

    problems, checked = validate_files(list(files))
    for problem in problems:
        click.echo(str(problem))
    given = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    extra = checked - len(files)
    also = f" and the {extra} mapping and check files they use" if extra else ""
    if problems:
        found = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        click.echo(f"{found} in {given}{also}", err=True)
        return 2
    click.echo(f"valid: {given}{also}", err=True)
    return 0


def _common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of every command that fetches from Bromcom and plans."""
    for option in (
        PARENTPAY_TIMEOUT,
        BROMCOM_TIMEOUT,
        FETCH_JOBS,
        RECORD,
        SHOW_SENSITIVE,
        STATE_DIR,
    ):
        func = option(func)
    return func


def _sync_options(
    state_dir: str | None,
    out_dir: Path | None,
    show_sensitive: bool,
    allow_mass_archive: bool,
    allow_mass_blank: bool,
    record: Path | None,
    fetch_jobs: int,
    timeouts: tuple[float | None, float | None],
    offline: bool = False,
    smtp: Any = None,
    on_event: Callable[[Event], None] | None = None,
) -> Any:
    """The Options of `plan` and `run`, from the flags they share (`offline`: plan only; `smtp`:
    run only, where its results messages go; `on_event`: where progress goes, if not to
    plain lines)."""
    from engine.pipeline import Options

    return Options(
        state_dir=_state_dir(state_dir),
        out_dir=out_dir,
        show_sensitive=show_sensitive,
        allow_mass_archive=allow_mass_archive,
        allow_mass_blank=allow_mass_blank,
        on_event=on_event or _echo_event,
        record_dir=record,
        fetch_jobs=fetch_jobs,
        bromcom_timeout=timeouts[0],
        parentpay_timeout=timeouts[1],
        offline=offline,
        smtp=smtp,
    )


_COLOURS = {0: "green", 3: "yellow"}  # any other exit code: red


def _printer(show_sensitive: bool) -> Callable[[Any], None]:
    """Print one school's result the moment it is done (engine/report/terminal.py)."""
    from engine.report.terminal import render_outcome

    def echo(result: Any) -> None:
        first, *more = render_outcome(result.outcome, show_sensitive=show_sensitive)
        click.secho(scrub_known(first), fg=_COLOURS.get(result.exit_code, "red"))
        for line in more:
            click.echo(scrub_known(line))

    return echo


def _live_terminal() -> bool:
    """Whether a person watches the output on a terminal (a live board), rather than a CI log or
    a file reading it (plain lines)."""
    if os.environ.get("CI") or os.environ.get("TERM", "dumb") == "dumb":
        return False
    return sys.stdout.isatty() and sys.stderr.isatty()


class _Board:
    """A fleet run on a terminal: each finished school's result is printed as usual, and under
    the results one line per school still running, with its latest step and time, redrawn in
    place (engine.report.terminal.render_board) as events come and every second."""

    def __init__(self, total: int, show_sensitive: bool) -> None:
        self.total, self.done, self.drawn = total, 0, 0
        self.running: dict[str, tuple[str, str, float]] = {}
        self.lock = threading.Lock()
        self.printer = _printer(show_sensitive)
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, name="board", daemon=True)
        self.ticker.start()

    def _unboard(self) -> str:
        """The terminal codes that move up to the board drawn last and erase it ("" if none)."""
        return f"\x1b[{self.drawn}F\x1b[J" if self.drawn else ""

    def _redraw(self) -> None:
        from engine.report.terminal import render_board

        out = self._unboard()
        lines = render_board(
            self.running,
            self.done,
            self.total,
            time.monotonic(),
            shutil.get_terminal_size().columns,
        )
        sys.stderr.write(out + "".join(f"{line}\n" for line in lines))
        sys.stderr.flush()
        self.drawn = len(lines)

    def _erase(self) -> None:
        if self.drawn:
            sys.stderr.write(self._unboard())
            sys.stderr.flush()
            self.drawn = 0

    def _tick(self) -> None:
        while not self.stopped.wait(1.0):
            with self.lock:
                if self.running:
                    self._redraw()

    def event(self, event: Event) -> None:
        with self.lock:
            started = self.running.get(event.school, ("", "", time.monotonic()))[2]
            message = scrub_known(event.message).splitlines()[0] if event.message else ""
            self.running[event.school] = (event.stage, message, started)
            self._redraw()

    def result(self, result: Any) -> None:
        with self.lock:
            self._erase()
            self.running.pop(result.name, None)
            self.done += 1
            self.printer(result)
            sys.stdout.flush()
            self._redraw()

    def close(self) -> None:
        self.stopped.set()
        self.ticker.join()
        with self.lock:
            self._erase()


def _close(invocation: Any) -> int:
    """After the schools' lines: the tally (for several), the run-results file, the exit code."""
    from engine.report.terminal import render_tally

    if len(invocation.results) > 1:
        click.echo(render_tally(invocation.outcomes, invocation.seconds))
    if invocation.run_results is not None:
        from engine.commands.result import shown_path

        click.echo(f"run results: {shown_path(invocation.run_results)}")
    return int(invocation.exit_code)


@cli.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@_returns_code
def check(file: Path) -> int:
    """The set-up test of a school before it goes live; pushes nothing.

    A checklist: the password variable, the URL, credentials, every entity the upload options
    need, year codes and UFSM years, consent, then a trial pupil plan. Each failure says what to
    change and where. Exit 0 ready to go live, 3 something to fix, 1 it could not run at all.
    """
    from engine.commands.setup_check import run_setup_check
    from engine.config.school import load_school
    from engine.report.checklist import render_checklist

    result = run_setup_check(load_school(file))
    click.echo(render_checklist(result))
    return result.exit_code


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    default="plans",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for <urn>.plan.json, and the report as <urn>.plan.md and .plan.html.",
)
@ALLOW_MASS_ARCHIVE
@ALLOW_MASS_BLANK
@click.option(
    "--offline",
    is_flag=True,
    help="Diff against the last upload bromsync recorded, without reading ParentPay (needs no "
    "ParentPay variables); such a plan cannot be applied.",
)
@_common_options
@_returns_code
def plan(
    files: tuple[Path, ...],
    out_dir: Path,
    allow_mass_archive: bool,
    allow_mass_blank: bool,
    offline: bool,
    state_dir: str | None,
    show_sensitive: bool,
    record: Path | None,
    fetch_jobs: int,
    bromcom_timeout: float | None,
    parentpay_timeout: float | None,
) -> int:
    """Fetch from Bromcom, read ParentPay, check and diff; write each school's plan. Pushes nothing.

    The plan turns what ParentPay holds now into what Bromcom says, for the records bromsync
    manages; it lists drift (fields changed in ParentPay by hand). A plan that archives or
    empties a field for many records at once is blocked (docs/school-file.md, the guards):
    review it, then push it with `bromsync apply DIR/<urn>.plan.json --allow-mass-archive`
    (or --allow-mass-blank). Needs BROMSYNC_PARENTPAY_URL and BROMSYNC_PARENTPAY_TOKEN unless
    --offline. A school's own problem (its file invalid, its password variable unset) fails that
    school alone. Exit 0 plan written; 3 a guard blocked a school or checks held records back;
    1 a school failed; 2 bad configuration (a school's own, or, with nothing run, one common to
    all). With several schools 2 outranks 1, then 3, then 0.
    """
    from engine.commands.batch import sync_files

    options = _sync_options(
        state_dir,
        out_dir,
        show_sensitive,
        allow_mass_archive,
        allow_mass_blank,
        record,
        fetch_jobs,
        (bromcom_timeout, parentpay_timeout),
        offline,
    )
    return _close(sync_files(files, options, command="plan", on_result=_printer(show_sensitive)))


@cli.command(context_settings=CONTEXT)
@click.argument("planfiles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    default="plans",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for each school's <urn>.results.json and .results.md, and run-results.json.",
)
@ALLOW_MASS_ARCHIVE
@ALLOW_MASS_BLANK
@PARENTPAY_TIMEOUT
@SHOW_SENSITIVE
@STATE_DIR
@_returns_code
def apply(
    planfiles: tuple[Path, ...],
    out_dir: Path,
    allow_mass_archive: bool,
    allow_mass_blank: bool,
    parentpay_timeout: float | None,
    show_sensitive: bool,
    state_dir: str | None,
) -> int:
    """Push exactly the changes of each PLANFILE to ParentPay; write each school's results.

    A plan whose push was cut off (a crash, ParentPay down) is finished: the batches ParentPay
    acknowledged are skipped, the others sent with their same keys, so nothing goes twice.
    Refused if the plan was edited, was made --offline, was already applied, or another upload
    has been acknowledged since it was made. A plan a guard blocked goes only with the flag of
    each guard that blocked it (--allow-mass-archive, --allow-mass-blank), after review; the
    release and who ran it are recorded in the state. Needs BROMSYNC_PARENTPAY_URL and
    BROMSYNC_PARENTPAY_TOKEN and the state folder the plan was made with. Sends the results
    message to the school's notify.email (BROMSYNC_SMTP_URL). Exit 0 all applied; 3 blocked,
    held back or rejected records; 1 ParentPay failed; 2 the plan cannot be applied (stale,
    edited, missing) or bad configuration. With several plans 2 outranks 1, then 3, then 0.
    """
    from engine.commands.apply import apply_files
    from engine.config.environment import smtp_settings
    from engine.pipeline import Options

    options = Options(
        state_dir=_state_dir(state_dir),
        allow_mass_archive=allow_mass_archive,
        allow_mass_blank=allow_mass_blank,
        parentpay_timeout=parentpay_timeout,
        out_dir=out_dir,
        show_sensitive=show_sensitive,
        on_event=_echo_event,
        smtp=smtp_settings(),
    )
    return _close(apply_files(planfiles, options, on_result=_printer(show_sensitive)))


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Schools synced at once.",
)
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Only share I of N (1 <= I <= N) of the schools, by URN, for CI fan-out (a Kubernetes "
    "Indexed Job's share is JOB_COMPLETION_INDEX + 1).",
)
@ALLOW_MASS_ARCHIVE
@ALLOW_MASS_BLANK
@click.option(
    "--out",
    "out_dir",
    default="plans",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for each school's plan (written before its push, so a push cut off can be "
    "finished with apply), its report, <urn>.results.json and .results.md, and run-results.json.",
)
@_common_options
@_returns_code
def run(
    files: tuple[Path, ...],
    jobs: int,
    shard: str | None,
    allow_mass_archive: bool,
    allow_mass_blank: bool,
    out_dir: Path,
    state_dir: str | None,
    show_sensitive: bool,
    record: Path | None,
    fetch_jobs: int,
    bromcom_timeout: float | None,
    parentpay_timeout: float | None,
) -> int:
    """Plan and apply each school; one school's failure does not stop the others.

    A school's own problem (its file invalid, its password variable unset) fails that school
    alone; only ParentPay's URL or token, or a usage error, stops every school. A school whose
    plan a guard blocks pushes nothing; --allow-mass-archive and --allow-mass-blank lift the
    guards for every school of the command: to release one school after review, give the flag
    to `bromsync apply PLANFILE` instead. Exit 0 all applied; 3 something was blocked, held back
    or rejected; 1 a school failed; 2 bad configuration. With several schools 2 outranks 1, then
    3, then 0. Needs BROMSYNC_PARENTPAY_URL and BROMSYNC_PARENTPAY_TOKEN.
    """
    from engine.commands.batch import pick_shard, sync_files
    from engine.config.environment import smtp_settings

    chosen = pick_shard(files, shard)
    if not chosen:
        given = f"{len(files)} school file{'s' if len(files) != 1 else ''}"
        click.echo(
            f"share {shard}: no school of the {given} given falls in it (shares go by URN); nothing to run"
        )
        return 0
    # Several schools at once on a terminal: a live line per running school. In a CI log or a
    # pipe, every step is a plain line, as for one school.
    board = (
        _Board(len(chosen), show_sensitive)
        if jobs > 1 and len(chosen) > 1 and _live_terminal()
        else None
    )
    options = _sync_options(
        state_dir, out_dir, show_sensitive, allow_mass_archive, allow_mass_blank, record,
        fetch_jobs, (bromcom_timeout, parentpay_timeout), smtp=smtp_settings(),
        on_event=board.event if board else None,
    )  # fmt: skip
    try:
        invocation = sync_files(
            chosen, options, command="run", jobs=jobs,
            on_result=board.result if board else _printer(show_sensitive),
        )  # fmt: skip
    finally:
        if board is not None:
            board.close()
    return _close(invocation)


@cli.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    default="plans",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for <urn>.match.json and <urn>.match.md.",
)
@click.option(
    "--apply", "apply_", is_flag=True, help="Re-key the certain and probable matches in ParentPay."
)
@STATE_DIR
@_returns_code
def match(file: Path, out_dir: Path, apply_: bool, state_dir: str | None) -> int:
    """The data-matching exercise: match records already in ParentPay to Bromcom IDs.

    Pupils by UPN, otherwise by name and date of birth; writes a match report to review
    (docs/matching.md). --apply re-keys the certain and probable matches, keeping each
    account and its balance. Exit 0 nothing to decide; 3 a person must decide something, or
    --apply was refused or rejected.
    """
    from engine.commands.match import run_match
    from engine.config.school import load_school
    from engine.pipeline import Options
    from engine.report.match import render_match_summary

    options = Options(state_dir=_state_dir(state_dir), out_dir=out_dir, on_event=_echo_event)
    result = run_match(load_school(file), options, apply=apply_)
    click.echo(render_match_summary(result))
    return result.exit_code


@cli.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for <urn>.pupils.csv, <urn>.staff.csv and <urn>.preadmissions.csv.",
)
@click.option(
    "--allow-mass-archive",
    is_flag=True,
    help="Write the files even if uploading them would archive many records.",
)
@STATE_DIR
@FETCH_JOBS
@_returns_code
def export(
    file: Path, out_dir: Path, allow_mass_archive: bool, state_dir: str | None, fetch_jobs: int
) -> int:
    """Write ParentPay manual-upload CSV files of the school's current data; pushes nothing.

    The same records a plan would send: fetched from Bromcom, mapped and checked, with records
    held back by a check left out and listed (docs/export.md). Exit 0 written, 3 records held
    back or blocked, 1 Bromcom failed, 2 bad configuration.
    """
    from engine.commands.export import detail_lines, export_school, summary_line
    from engine.config.school import load_school
    from engine.pipeline import Options

    options = Options(
        state_dir=_state_dir(state_dir),
        allow_mass_archive=allow_mass_archive,
        on_event=_echo_event,
        fetch_jobs=fetch_jobs,
    )
    result = export_school(load_school(file), out_dir, options)
    click.echo(summary_line(result))
    for line in detail_lines(result):
        click.echo(f"    {line}")
    return result.exit_code


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people; json (a list of objects, ISO dates) or csv (with a header) for "
    "programs.",
)


def _echo_answer(columns: list[str], rows: list[Any], fmt: str) -> None:
    """A query's answer in the format asked for (docs/analysts.md, "Output formats")."""
    from engine.state.query import as_csv, as_json

    if fmt == "json":
        click.echo(as_json(columns, rows))
    elif fmt == "csv":
        click.echo(as_csv(columns, rows), nl=False)
    else:
        from engine.report.terminal import render_table

        click.echo(render_table(columns, rows))


@cli.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("query")
@FORMAT
@STATE_DIR
@_returns_code
def sql(file: Path, query: str, fmt: str, state_dir: str | None) -> int:
    """Run QUERY on the DuckDB state of the school in FILE (read-only) and print the answer.

    A table by default; --format json or csv for programs (docs/analysts.md).
    """
    from engine.config.school import load_school
    from engine.state.query import query_state

    school = load_school(file)
    columns, rows = query_state(_state_dir(state_dir), school.urn, query)
    _echo_answer(columns, rows, fmt)
    return 0


@cli.command("sql-all", context_settings=CONTEXT)
@click.argument("query")
@click.option(
    "--urn",
    "urns",
    multiple=True,
    type=int,
    help="Only this school (repeatable); default every school.",
)
@FORMAT
@STATE_DIR
@_returns_code
def sql_all(query: str, urns: tuple[int, ...], fmt: str, state_dir: str | None) -> int:
    """Run QUERY across every school's state at once (read-only) and print the answer.

    Each school is attached as s_<urn>; all_<view> views (all_current_pupils, all_runs,
    all_check_results...) put every school's rows together with a urn column. A table by
    default; --format json or csv for programs. See docs/analysts.md.
    """
    from engine.state.query import query_all

    columns, rows = query_all(_state_dir(state_dir), query, urns=urns or None)
    _echo_answer(columns, rows, fmt)
    return 0


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write status.html here, linking to each school's report in this folder "
    "(the --out of your runs, e.g. plans).",
)
@STATE_DIR
@_returns_code
def status(files: tuple[Path, ...], out_dir: Path | None, state_dir: str | None) -> int:
    """Where each school stands, from its state file alone: last run, last success, how old
    ParentPay's data is, what is blocked, held back or rejected, and the next thing to do.

    Contacts neither Bromcom nor ParentPay. Exit 0 every school ok, 3 one needs attention or
    never ran, 1 one failed. See docs/status.md.
    """
    import datetime as dt

    from engine.commands.status import fleet_status, status_exit_code
    from engine.report.status import render_text

    now = dt.datetime.now()
    statuses = fleet_status(files, _state_dir(state_dir), out_dir, now)
    click.echo(render_text(statuses, now))
    if out_dir is not None:
        click.echo(f"\nwrote {out_dir / 'status.html'}")
    return status_exit_code(statuses)


@cli.command(context_settings=CONTEXT)
@click.option(
    "--dir",
    "workdir",
    default="bromsync-demo",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for the demo's data, school file, state and plan.",
)
@click.option("--seed", default=2026, show_default=True, help="Seed of the generated school.")
@click.option(
    "--size",
    default="primary",
    show_default=True,
    type=click.Choice(["tiny", "primary", "secondary"]),
    help="tiny: 12 pupils; primary: 210 pupils; secondary: 2,000 pupils, ~300 pre-admissions, ~180 staff.",
)
@SHOW_SENSITIVE
@_returns_code
def demo(workdir: Path, seed: int, size: str, show_sensitive: bool) -> int:
    """Generate a school, start both simulators on loopback, sync it, and print the report."""
    from simulators.demo import run_demo

    return run_demo(workdir, seed=seed, size=size, show_sensitive=show_sensitive, echo=click.echo)


@cli.group(context_settings=CONTEXT)
def simulate() -> None:
    """Start a simulator of Bromcom or ParentPay on loopback, for trials and tests."""


@simulate.command("bromcom", context_settings=CONTEXT)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Dataset folder: one sub-folder per MIS OrgID (see simulators/bromcom/README.md).",
)
@click.option(
    "--replay",
    "replay_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Serve the responses a run saved with --record, instead of a dataset.",
)
@PORT
@_returns_code
def simulate_bromcom(data_dir: Path | None, replay_dir: Path | None, port: int) -> int:
    """Serve Bromcom's TPReadOnlyDataService (SOAP 1.1 and 1.2) from a dataset folder or a recording."""
    from simulators.bromcom import PortUnavailable, ReplayError, serve, serve_replay

    if (data_dir is None) == (replay_dir is None):
        raise ConfigError("give exactly one of --data DIR or --replay DIR")
    try:
        if replay_dir is not None:
            serve_replay(replay_dir, port)
        elif data_dir is not None:
            serve(data_dir, port)
    except (ReplayError, ValueError, PortUnavailable) as exc:
        raise ConfigError(str(exc)) from exc
    return 0


@simulate.command("parentpay", context_settings=CONTEXT)
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder where the simulator keeps its records (created if missing).",
)
@PORT
@click.option(
    "--token",
    default=None,
    help="Bearer token to accept [env BROMSYNC_PARENTPAY_TOKEN, default 'demo-token'].",
)
@click.option(
    "--site",
    "sites",
    multiple=True,
    type=click.IntRange(min=1),
    help="Serve only this site id (repeatable), and the ones stored before; any other is 404. "
    "Without --site, every site id is served, added the first time a request names it.",
)
@_returns_code
def simulate_parentpay(data_dir: Path, port: int, token: str | None, sites: tuple[int, ...]) -> int:
    """Serve the ParentPay People API (docs/parentpay-api.md), persisted in --data."""
    from simulators.parentpay import PortUnavailable, serve

    try:
        serve(
            data_dir,
            port,
            token or os.environ.get("BROMSYNC_PARENTPAY_TOKEN") or "demo-token",
            sites,
        )
    except (ValueError, PortUnavailable) as exc:
        raise ConfigError(str(exc)) from exc
    return 0


@simulate.command("generate", context_settings=CONTEXT)
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset folder to write DIR/<org-id>/ into (created if missing); serve it with "
    "`bromsync simulate bromcom --data DIR`.",
)
@click.option(
    "--size",
    default="primary",
    show_default=True,
    type=click.Choice(["tiny", "primary", "secondary"]),
    help="tiny: 12 pupils; primary: 210 pupils; secondary: 2,000 pupils, ~300 pre-admissions, "
    "~180 staff.",
)
@click.option("--seed", default=2026, show_default=True, help="Same seed, same school.")
@click.option(
    "--org-id",
    default=20001,
    show_default=True,
    type=click.IntRange(min=1),
    help="The school's MIS OrgID (Bromcom's schoolID): one per school in a folder.",
)
@click.option(
    "--username",
    default=None,
    help="The web-service account's username [default: parentpay_<org-id>].",
)
@click.option(
    "--password",
    default="simulator-password",
    show_default=True,
    help="The web-service account's password (a simulator's, never a real one).",
)
@click.option(
    "--urn", default=None, type=click.IntRange(min=1), help="The DfE URN [default: from the seed]."
)
@click.option("--name", default=None, help="The school's name [default: from the seed].")
@click.option(
    "--school-file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a school file for it, pointing at the simulator on --port.",
)
@click.option(
    "--site-id",
    default=5001,
    show_default=True,
    type=click.IntRange(min=1),
    help="The ParentPay site id the school file names.",
)
@click.option(
    "--port",
    default=8600,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The port the school file expects `simulate bromcom` on.",
)
@_returns_code
def simulate_generate(
    data_dir: Path,
    size: str,
    seed: int,
    org_id: int,
    username: str | None,
    password: str,
    urn: int | None,
    name: str | None,
    school_file: Path | None,
    site_id: int,
    port: int,
) -> int:
    """Generate a school's Bromcom data into a dataset folder `simulate bromcom` serves.

    Pupils, contacts, staff, pre-admissions, meals and the rest of the 21 entities, with the
    awkward cases real schools have, dated from today (BROMSYNC_TODAY if set). One school per
    call: give each school its own --org-id. --school-file also writes the school file
    bromsync needs. See simulators/bromcom/README.md.
    """
    from engine import clock
    from simulators.generate import generate

    try:
        generate(
            data_dir,
            today=clock.today(),
            echo=click.echo,
            size=size,
            seed=seed,
            org_id=org_id,
            username=username,
            password=password,
            urn=urn,
            name=name,
            school_file=school_file,
            site_id=site_id,
            port=port,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return 0


def main() -> None:
    cli(prog_name="bromsync")


if __name__ == "__main__":
    main()
