"""`bromsync demo`: a generated school synced end to end through both simulators, on loopback.

Everything lives in one folder (default ./bromsync-demo): the Bromcom dataset, ParentPay's
store, the school file, the DuckDB state and the plan. Running the demo again reuses the
ParentPay store and the state, so the second sync of the same school pushes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine import clock
from engine.commands.result import SchoolResult
from engine.commands.run import run_school
from engine.config.school import load_school
from engine.pipeline import Options
from simulators.bromcom import BromcomSimulator
from simulators.datagen import generate_school, write_school_file
from simulators.parentpay import ParentPaySimulator

ORG_ID = 20001
SITE_ID = 5001
TOKEN = "demo-token"
PASSWORD_ENV = "BROMSYNC_DEMO_BROMCOM_PASSWORD"
PASSWORD = "demo-password"


def _head(markdown: str) -> str:
    """The report's summary, checks and exclusions; its per-year-group changes (hundreds of
    lines for a first sync) stay in the file."""
    sections = markdown.split("\n## ")
    keep = [sections[0].rstrip()]
    keep += [
        f"## {part.rstrip()}" for part in sections[1:] if part.startswith(("Checks", "Left out"))
    ]
    return "\n\n".join(keep)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """The variables a school's sync reads (docs/cli.md), set for the demo and then restored."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_demo(
    workdir: Path,
    *,
    seed: int,
    show_sensitive: bool,
    echo: Callable[[str], None],
    size: str = "primary",
) -> int:
    started = time.perf_counter()
    workdir = workdir.resolve()
    today = clock.today()
    summary = generate_school(
        workdir / "bromcom",
        org_id=ORG_ID,
        seed=seed,
        size=size,
        today=today,
        username="parentpay_demo",
        password=PASSWORD,
    )
    echo(f"generated {summary.name}: {summary.counts.get('Students', 0)} pupils in Bromcom's data")
    with (
        BromcomSimulator(workdir / "bromcom") as bromcom,
        ParentPaySimulator(workdir / "parentpay", token=TOKEN, sites=[SITE_ID]) as parentpay,
        _environment(
            {
                PASSWORD_ENV: PASSWORD,
                "BROMSYNC_PARENTPAY_URL": parentpay.url,
                "BROMSYNC_PARENTPAY_TOKEN": TOKEN,
            }
        ),
    ):
        echo(f"Bromcom simulator:   {bromcom.url}")
        echo(f"ParentPay simulator: {parentpay.url}")
        school_file = workdir / "schools" / "demo.yaml"
        school_file.parent.mkdir(parents=True, exist_ok=True)
        write_school_file(
            school_file,
            summary,
            url=bromcom.url,
            password_env=PASSWORD_ENV,
            parentpay_site_id=SITE_ID,
        )
        school = load_school(school_file)
        options = Options(
            state_dir=workdir / "state",
            out_dir=workdir / "plans",
            show_sensitive=show_sensitive,
            on_event=lambda e: echo(f"  {e.stage}: {e.message}"),
        )
        first = run_school(school, options)
        _show(first, echo)
        if first.exit_code not in (0, 3):
            return first.exit_code
        echo("\nsyncing again: nothing has changed in Bromcom, so nothing should be pushed")
        second = run_school(school, Options(state_dir=workdir / "state"))
        echo(f"  second sync: {second.message}")
    echo(f"\nstate:  {first.state}")
    if first.plan_files:
        files = first.plan_files
        echo(
            f"plan:   {files.json}\nreport: {files.markdown}\n        {files.html} (open in a browser)"
        )
    echo(
        f"try:    bromsync sql {school_file} --state-dir {workdir / 'state'} "
        "\"SELECT type, status, count(*) FROM uploaded GROUP BY ALL\""
    )
    echo(f"done in {time.perf_counter() - started:.1f}s")
    # The demo has done its job when both syncs ran; held-back or rejected records are part of
    # what it shows (the report lists them), not a failure of the demo.
    failed = [r.exit_code for r in (first, second) if r.exit_code in (1, 2)]
    return failed[0] if failed else 0


def _show(result: SchoolResult, echo: Callable[[str], None]) -> None:
    if result.plan_files:
        echo("")
        echo(_head(result.plan_files.markdown.read_text(encoding="utf-8")))
        echo(
            f"\n(every change, by year group, is in the full report: {result.plan_files.markdown})"
        )
    echo(f"\nfirst sync: {result.message}")
