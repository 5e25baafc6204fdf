"""`bromsync status FILE...`: where every school stands, from its state file alone (docs/status.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from engine.config.school import load_school
from engine.errors import BromsyncError, ExitCode
from engine.files import write_private
from engine.report.status import SchoolStatus, describe, render_html, unreadable
from engine.state.history import read_history
from engine.state.store import state_path

_EXIT = {"ok": ExitCode.OK, "attention": ExitCode.INCOMPLETE, "never run": ExitCode.INCOMPLETE,
         "failed": ExitCode.FAILED}  # fmt: skip


def school_status(
    file: Path, state_dir: Path, out_dir: Path | None, now: dt.datetime
) -> SchoolStatus:
    """The status of the school in `file`; a broken file or state is a failed line, not a crash."""
    try:
        school = load_school(file)
    except BromsyncError as exc:
        return unreadable(file, file.name, None, f"fix the school file: {exc}")
    try:
        history = read_history(state_path(state_dir, school.urn))
    except BromsyncError as exc:
        return unreadable(file, school.name, school.urn, str(exc))
    return describe(file, school.name, school.urn, history, now, _report(out_dir, school.urn))


def fleet_status(
    files: Sequence[Path], state_dir: Path, out_dir: Path | None, now: dt.datetime
) -> list[SchoolStatus]:
    """One status per school file; with `out_dir`, status.html is written there too."""
    statuses = [school_status(f, state_dir, out_dir, now) for f in files]
    if out_dir is not None:
        write_private(out_dir / "status.html", render_html(statuses, now, out_dir))
    return statuses


def status_exit_code(statuses: Sequence[SchoolStatus]) -> int:
    """0 when every school is ok, 3 when one needs attention or never ran, 1 when one failed."""
    return int(ExitCode.worst(_EXIT[s.verdict] for s in statuses))


def _report(out_dir: Path | None, urn: int) -> Path | None:
    """The school's latest report in `out_dir`: its results, else its plan report."""
    if out_dir is None:
        return None
    for name in (f"{urn}.results.md", f"{urn}.plan.html", f"{urn}.plan.md"):
        if (out_dir / name).exists():
            return out_dir / name
    return None
