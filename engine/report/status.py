"""The fleet status page: one line per school, as text for a terminal and as one HTML page.

`bromsync status` (engine/commands/status.py) reads each school's state file; this module
turns what it read into a verdict and the next thing to do, and lays the lines out. The HTML
is self-contained (inline CSS, no scripts, nothing fetched) so it can be attached, archived as
a CI artefact or opened from a file share; it links to each school's report beside it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from engine.state.history import History

# Data older than this is stale: a nightly sync that has missed a night and a half.
STALE_AFTER = dt.timedelta(hours=36)

VERDICTS = ("failed", "attention", "never run", "ok")  # worst first: the order of the page
_WORDS = {"failed": "failed", "attention": "needs attention", "never run": "never run", "ok": "ok"}


@dataclass(frozen=True)
class SchoolStatus:
    """One school's line of the status page."""

    file: Path
    name: str
    urn: int | None
    verdict: str  # one of VERDICTS
    history: History | None
    next_step: str
    report: Path | None = None  # the school's latest results or plan report, if there is one


def describe(
    file: Path, name: str, urn: int, history: History | None, now: dt.datetime,
    report: Path | None = None,
) -> SchoolStatus:  # fmt: skip
    """The verdict and next step of a school whose state was read (None: it never ran)."""
    if history is None:
        step = f"never run here: run `bromsync check {file}`, then `bromsync run {file}`"
        return SchoolStatus(file, name, urn, "never run", None, step, report)
    verdict, step = _next_step(file, urn, history, now)
    return SchoolStatus(file, name, urn, verdict, history, step, report)


def unreadable(file: Path, name: str, urn: int | None, why: str) -> SchoolStatus:
    """A school whose file or state could not be read: a failed line with the reason."""
    return SchoolStatus(file, name, urn, "failed", None, why)


def is_stale(history: History, now: dt.datetime) -> bool:
    return history.data_as_of is None or now - history.data_as_of > STALE_AFTER


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _next_step(file: Path, urn: int, h: History, now: dt.datetime) -> tuple[str, str]:
    if h.failed:
        return "failed", f"the last run failed: {h.failed.splitlines()[0]}"
    if h.blocked:
        return "attention", (
            f"a guard blocked the last run: review `bromsync plan {file} --out plans`, then "
            f"`bromsync apply plans/{urn}.plan.json` with the flag its report names"
        )
    problems = []
    if h.held:
        problems.append(f"correct the {_plural(h.held, 'held-back record')} in Bromcom")
    if h.rejected:
        problems.append(f"look at the {_plural(h.rejected, 'operation')} ParentPay rejected")
    if problems:
        return "attention", " and ".join(problems) + " (the school's report names them)"
    if is_stale(h, now):
        since = "ever" if h.data_as_of is None else f"for {age(h.data_as_of, now)}"
        return (
            "attention",
            f"no successful sync {since}: check that the school's scheduled run still runs",
        )
    return "ok", "nothing to do"


def age(then: dt.datetime | None, now: dt.datetime) -> str:
    """How long ago `then` was, in words read at a glance ("40 min", "5 h", "3 days")."""
    if then is None:
        return "never"
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def _when(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _cells(s: SchoolStatus, now: dt.datetime) -> list[str]:
    h = s.history
    last = h.last_run if h else None
    return [
        s.name,
        "" if s.urn is None else str(s.urn),
        _WORDS[s.verdict],
        f"{_when(last.started_at)} {last.command} {last.status}" if last else "",
        _when(h.last_success) if h else "",
        age(h.data_as_of, now) if h else "",
        ("yes" if h.blocked else "no") if h else "",
        str(h.held) if h else "",
        str(h.rejected) if h else "",
        s.next_step,
    ]


COLUMNS = ("school", "URN", "status", "last run", "last success", "data age", "blocked",
           "held", "rejected", "next step")  # fmt: skip


def ordered(statuses: Sequence[SchoolStatus]) -> list[SchoolStatus]:
    """Worst first, then by school name: the schools that need someone come first."""
    return sorted(statuses, key=lambda s: (VERDICTS.index(s.verdict), s.name.lower()))


def tally(statuses: Sequence[SchoolStatus]) -> str:
    """The closing count, e.g. "5 schools: 2 ok, 2 need attention, 1 failed"."""
    counts = Counter(s.verdict for s in statuses)
    parts = []
    for verdict in ("ok", "attention", "never run", "failed"):
        if counts[verdict]:
            word = verdict
            if verdict == "attention":
                word = "needs attention" if counts[verdict] == 1 else "need attention"
            parts.append(f"{counts[verdict]} {word}")
    return f"{_plural(len(statuses), 'school')}: " + (", ".join(parts) or "none")


def render_text(statuses: Sequence[SchoolStatus], now: dt.datetime) -> str:
    """One aligned line per school, worst first, and the tally under them."""
    rows = [_cells(s, now) for s in ordered(statuses)]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]

    def line(values: Sequence[str]) -> str:
        # The last column (next step) is not padded: it is read, not compared.
        padded = [v.ljust(w) for v, w in zip(values[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, values[-1]]).rstrip()

    return "\n".join([line(COLUMNS), *(line(r) for r in rows), "", tally(statuses)])


_CSS = """
body { margin: 0; color: #1f2933; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto,
  "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 28px 36px 40px; }
h1 { font-size: 26px; margin: 0 0 4px; }
.meta { color: #5f6b7a; margin: 0 0 18px; }
.tally { font-size: 18px; font-weight: 650; margin: 0 0 14px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px 6px 8px; border-bottom: 1px solid #dde3ea; vertical-align: top; }
th { background: #f4f6f9; font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; }
td.zero { color: #b6bfca; }
.badge { display: inline-block; border-radius: 999px; padding: 0 9px; font-weight: 600; font-size: 13px;
  white-space: nowrap; }
.failed { color: #b42318; background: #fef3f2; }
.attention { color: #a15c07; background: #fffaeb; }
.never { color: #5f6b7a; background: #f4f6f9; }
.ok { color: #067647; background: #ecfdf3; }
a { color: #2b5f8f; }
.urn { color: #5f6b7a; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
"""


def render_html(statuses: Sequence[SchoolStatus], now: dt.datetime, out_dir: Path | None) -> str:
    """The status page; report links are relative to `out_dir`, where the page is written."""
    rows = []
    for s in ordered(statuses):
        cells = _cells(s, now)
        name = escape(cells[0])
        if s.report is not None:
            href = Path(os.path.relpath(s.report, out_dir)) if out_dir else s.report
            name = f'<a href="{escape(href.as_posix())}">{name}</a>'
        badge = f'<span class="badge {s.verdict.split()[0]}">{escape(cells[2])}</span>'
        counts = "".join(
            f'<td class="num{" zero" if value == "0" else ""}">{escape(value)}</td>'
            for value in cells[7:9]
        )
        rows.append(
            f'<tr><td>{name} <span class="urn">{escape(cells[1])}</span></td><td>{badge}</td>'
            f'<td class="nowrap">{escape(cells[3])}</td><td class="nowrap">{escape(cells[4])}</td>'
            f'<td class="nowrap">{escape(cells[5])}</td><td>{escape(cells[6])}</td>{counts}'
            f"<td>{escape(cells[9])}</td></tr>"
        )
    head = "".join(
        f"<th>{escape(c)}</th>" for c in ("school", "status", "last run", "last success",
                                          "data age", "blocked", "held", "rejected", "next step")
    )  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>bromsync status: {escape(tally(statuses))}</title><style>{_CSS}</style></head>"
        f"<body><main><h1>bromsync status</h1>"
        f'<p class="meta">From the schools\' state files at {escape(_when(now))}. '
        "Data age is how long since ParentPay last got each school's Bromcom data.</p>"
        f'<p class="tally">{escape(tally(statuses))}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</main></body></html>\n"
    )
