"""Text the CLI prints that is not a school's report: each school's result as it finishes, the
closing tally, and the analysts' result tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.events import school_headline
from engine.records import RECORD_TYPES
from engine.report.results import Outcome, Problem, masked, tally

SHOWN = 20  # records named per school; the results file names them all
SHOWN_VALUES = 5  # values found per check on one line; the results file lists them all
MARKS = {0: "✔", 3: "!"}  # any other exit code: ✘


def mark(exit_code: int) -> str:
    return MARKS.get(exit_code, "✘")


def _noun(kind: str, n: int) -> str:
    rt = RECORD_TYPES.get(kind)
    return f"{n} {(rt.one if n == 1 else rt.many) if rt else 'records'}"


def _where_all(o: Outcome) -> str:
    for key in ("results_md", "report"):
        if key in o.files:
            return f" (every one is in {o.files[key]})"
    return ""


def _problem_lines(o: Outcome, show: bool) -> list[str]:
    """Every rejected, then every held-back record, named with the code or check, the message
    and the fix: the first SHOWN records, then how many more."""
    out: list[str] = []
    shown = 0
    total = len(o.rejected) + len(o.held)
    for p in o.rejected:
        if shown == SHOWN:
            break
        shown += 1
        out.append(f"    rejected {p.op} {p.type} {p.who}: {p.reason}: {masked(p.message, show)}")
        out.append(f"      fix: {p.fix}")
    groups: dict[tuple[str, str, str, str], list[Problem]] = {}
    for p in o.held:
        groups.setdefault((p.reason, p.type, p.message, p.fix), []).append(p)
    for (check, kind, message, fix), problems in groups.items():
        if shown == SHOWN:
            break
        out.append(
            f"    held back by {check} ({_noun(kind, len(problems))}): {masked(message, show)}"
        )
        if details := problems[0].details:
            found = ", ".join(masked(d, show) for d in details[:SHOWN_VALUES])
            if len(details) > SHOWN_VALUES:
                found += f" and {len(details) - SHOWN_VALUES} more{_where_all(o)}"
            out.append(f"      values found: {found}")
        for p in problems:
            if shown == SHOWN:
                break
            shown += 1
            out.append(f"      {p.who}")
        out.append(f"      fix: {fix}")
    if total > shown:
        out.append(f"    ... and {total - shown} more{_where_all(o)}")
    return out


def render_outcome(o: Outcome, *, show_sensitive: bool = False) -> list[str]:
    """One school's result: its headline (the first line), then the records that did not go,
    its files and what became of its results message."""
    first, *more = school_headline(o.school, o.urn, o.message).splitlines() or [""]
    lines = [f"{mark(o.exit_code)} {first}", *(f"    {line.strip()}" for line in more)]
    lines += _problem_lines(o, show_sensitive)
    if o.status == "blocked" and o.fix:
        lines.append(f"    to do: {o.fix}")
    files = o.files
    if "plan" in files:
        lines.append(f"    plan: {files['plan']}")
        lines.append(f"    report: {files['report']} (and .html for a browser)")
    if "results_md" in files:
        lines.append(f"    results: {files['results_md']} (and .json)")
    note = o.notification
    if note is not None:
        if note.get("sent"):
            lines.append(f"    results message sent to {', '.join(note['to'])}")
        elif note.get("error"):
            lines.append(f"    results message NOT sent: {note['error']}")
    return lines


def render_tally(outcomes: Sequence[Outcome], seconds: float) -> str:
    """'5 schools: 2 ok, 2 need attention, 1 failed in 8.0 s'."""
    t = tally(outcomes)
    schools = f"{t['schools']} school" + ("" if t["schools"] == 1 else "s")
    parts = [f"{t['ok']} ok"]
    parts += [f"{t['need_attention']} need{'s' if t['need_attention'] == 1 else ''} attention"]
    parts += [f"{t['failed']} failed"]
    return f"{schools}: {', '.join(parts)} in {seconds:.1f} s"


def render_board(
    running: Mapping[str, tuple[str, str, float]], done: int, total: int, now: float, width: int
) -> list[str]:
    """The live lines of a fleet run on a terminal: how many schools are done, then one line per
    school still running (`running`: school -> (stage, latest message, monotonic start)), each
    cut to `width` so that none wraps and the board can be redrawn in place."""
    lines = [f"{done} of {total} schools done, {len(running)} running"]
    for school, (stage, message, started) in running.items():
        lines.append(f"  … {school} · {stage}: {message} ({now - started:.0f} s)")
    return [line if len(line) <= width else line[: max(width - 1, 0)] + "…" for line in lines]


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as an aligned text table, NULL as blank, with the row count under it."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(columns), "-+-".join("-" * w for w in widths), *(line(r) for r in cells)]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
