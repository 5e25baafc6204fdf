"""What a school's state file says of its recent runs, for `bromsync status` (docs/status.md).

Read-only: the state file is opened read-only and nothing is written, so a status page can be
built while the nightly sync runs (DuckDB lets readers open a file another process is not
writing; a file being written is reported as busy, not waited for).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.errors import StateError
from engine.state.store import State

# The commands that push: their outcome is what ParentPay now holds.
_PUSHING = ("run", "apply")


@dataclass(frozen=True)
class LastRun:
    """The latest run of any command."""

    command: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str  # ok, incomplete, failed, crashed, interrupted, running
    message: str | None


@dataclass(frozen=True)
class History:
    """A school's recent history, as its state file records it."""

    last_run: LastRun | None
    last_success: dt.datetime | None  # the last `run`/`apply` that finished ok
    data_as_of: (
        dt.datetime | None
    )  # when ParentPay last got Bromcom's data (a push, or nothing to push)
    blocked: str | None  # the blocked reason, when the last pushing run was blocked by a guard
    held: int  # records held back by error checks in the last run that planned
    rejected: int  # operations ParentPay rejected in the last pushing run
    failed: str | None  # the message of the last run, when it failed


def read_history(path: Path) -> History | None:
    """The school's history, or None when it has no state file yet (it never ran)."""
    if not path.exists():
        return None
    try:
        state = State(path, read_only=True)
    except StateError as exc:
        raise StateError(f"{exc}. `bromsync status` reads it read-only; try again later") from exc
    try:
        return _read(state.con)
    except duckdb.Error as exc:
        raise StateError(f"cannot read the state file {path}: {exc}") from exc
    finally:
        state.close()


def _read(con: duckdb.DuckDBPyConnection) -> History:
    row = con.execute(
        "SELECT command, started_at, finished_at, status, message FROM runs "
        "ORDER BY started_at DESC, run_id DESC LIMIT 1"
    ).fetchone()
    last = LastRun(*row) if row else None
    pushing = ", ".join(f"'{c}'" for c in _PUSHING)
    success = con.execute(
        f"SELECT max(finished_at) FROM runs WHERE command IN ({pushing}) AND status = 'ok'"
    ).fetchone()
    # A run held back by checks or with rejections still brought the rest up to date.
    reached = con.execute(
        f"SELECT max(r.finished_at) FROM runs r WHERE r.command IN ({pushing}) AND "
        "(r.status = 'ok' OR (r.status = 'incomplete' AND coalesce(r.message, '') NOT LIKE 'blocked:%'))"
    ).fetchone()
    push = con.execute(
        f"SELECT run_id, status, message FROM runs WHERE command IN ({pushing}) "
        "ORDER BY started_at DESC, run_id DESC LIMIT 1"
    ).fetchone()
    blocked = rejected = None
    if push is not None:
        run_id, status, message = push
        if status == "incomplete" and (message or "").startswith("blocked:"):
            blocked = message.removeprefix("blocked:").strip()
        found = con.execute(
            "SELECT count(*) FROM upload_results x JOIN uploads u ON u.upload_id = x.upload_id "
            "WHERE u.run_id = ? AND x.status = 'rejected'",
            [run_id],
        ).fetchone()
        rejected = int(found[0]) if found else 0
    planned = con.execute(
        "SELECT count(DISTINCT r.mis_id) FROM records r WHERE r.held AND r.run_id = ("
        "SELECT f.run_id FROM fetches f JOIN runs x ON x.run_id = f.run_id "
        "ORDER BY x.started_at DESC, x.run_id DESC LIMIT 1)"
    ).fetchone()
    return History(
        last_run=last,
        last_success=success[0] if success else None,
        data_as_of=reached[0] if reached else None,
        blocked=blocked,
        held=int(planned[0]) if planned else 0,
        rejected=rejected or 0,
        failed=(last.message or last.status)
        if last and last.status in ("failed", "crashed", "interrupted")
        else None,
    )
