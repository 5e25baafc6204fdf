"""Export: the ParentPay manual-upload CSV files of a school's current data (`bromsync export`).

Without an integration, a school uploads CSV files by hand with ParentPay's MIS Sync and maps
their columns to ParentPay's fields (docs/rules.md). This module writes those files from the
same fetch, mappings and SQL checks as `plan`, so a file never carries a record the plan would
hold back. It never contacts ParentPay. The file format, and why, is in docs/export.md.

The export is recorded in the school's state as a run with command `export`: its fetches, its
mapped records and what its checks flagged stay queryable like a plan's, so an analyst can see
what left Bromcom and when. It touches no upload history: bromsync cannot know whether, or when,
the file is uploaded, so the baseline of the next `plan` is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.checks.run import CheckHit, held_ids
from engine.config.school import SchoolConfig
from engine.errors import BromsyncError
from engine.events import school_headline
from engine.pipeline import Options, Run, open_run, prepare
from engine.plan.diff import diff
from engine.plan.guards import archive_guards, blocked_reason, consent_guards
from engine.records import RECORD_TYPES, TYPES, Record, natural_key
from engine.state.store import state_path
from engine.targets.manual_upload import formula_hits, render_csv, write_atomic


@dataclass(frozen=True)
class ExportFile:
    """One CSV file written: its record type, where, and how many records it holds."""

    type: str
    path: Path
    rows: int


@dataclass(frozen=True)
class HeldRecord:
    """A record left out of the files, the error checks that held it, and whether ParentPay has it."""

    type: str
    mis_id: str
    checks: tuple[str, ...]
    # Already active in ParentPay (as bromsync last saw it): a full manual upload without it
    # archives it, where `run` would leave it untouched.
    in_parentpay: bool


@dataclass
class ExportResult:
    """What `export_school` did for one school; exit_code follows `plan` (docs/cli.md)."""

    name: str
    urn: int | None
    exit_code: int
    message: str
    out_dir: Path | None = None
    files: list[ExportFile] = field(default_factory=list)
    held: list[HeldRecord] = field(default_factory=list)
    checks: list[CheckHit] = field(default_factory=list)  # every hit, warnings included
    blocked_reason: str | None = None
    run_id: str | None = None
    state: Path | None = None
    error: BromsyncError | None = None


def export_school(school: SchoolConfig, out_dir: Path, options: Options) -> ExportResult:
    """Write `<urn>.<option>.csv` in `out_dir` for each of the school's upload options.

    Uses options.state_dir, mappings_dir, on_event, fetch_jobs, record_dir, source_factory and
    allow_mass_archive; the rest of `Options` concerns plans and pushes. Errors a person can act
    on become the result's exit_code and message, recorded in the school's state.
    """
    path = state_path(options.state_dir, school.urn)
    try:
        with open_run(school, options, "export") as run:
            result = _export(run, out_dir)
            # summary stays NULL: runs.summary has the plan's shape, and there is no plan.
            run.log.status = "ok" if result.exit_code == 0 else "incomplete"
            run.log.message = result.message
    except BromsyncError as exc:
        return ExportResult(school.name, school.urn, exc.exit_code, str(exc), error=exc, state=path)
    result.state = path
    return result


def _export(run: Run, out_dir: Path) -> ExportResult:
    school, options, state, run_id = run.config, run.options, run.state, run.run_id
    checked = prepare(run)
    results = checked.results
    formula = formula_hits(checked.records)
    if formula:
        state.save_checks(run_id, formula)
        state.mark_held(run_id, held_ids(formula))
    hits = [*checked.hits, *formula]
    held = held_ids(hits)
    kept = [r for r in checked.records if r["mis_id"] not in held]
    baseline = state.uploaded()
    result = ExportResult(
        school.name,
        school.urn,
        0,
        "",
        out_dir=out_dir,
        checks=hits,
        run_id=run_id,
        held=_held_records(hits, baseline),
    )

    guards = consent_guards(school, {t.type: (len(t.records), t.no_consent) for t in results})
    if not guards and not options.allow_mass_archive:
        # ParentPay takes a manual upload as the whole list and archives whoever it leaves out,
        # held records included, so the guard counts them (held=() here, unlike `plan`).
        _, summary = diff(kept, baseline, types={t.type for t in results})
        guards = archive_guards(school, summary, baseline)
    reason = blocked_reason(
        guards, "If the leavers are real, review them and export again with --allow-mass-archive."
    )
    if reason is not None:
        result.exit_code, result.blocked_reason = 3, reason
        result.message = f"blocked, no file written: {reason}"
        run.say("export", "blocked; no file written")
        return result

    texts = {
        kind: render_csv(kind, [r for r in kept if r["type"] == kind])
        for kind in TYPES
        if any(t.type == kind for t in results)
    }
    for kind, (text, rows) in texts.items():
        target = out_dir / f"{school.urn}.{RECORD_TYPES[kind].option}.csv"
        write_atomic(target, text)
        result.files.append(ExportFile(kind, target, rows))
        run.say("export", f"{target}: {rows} {_plural(kind, rows)}")
    result.exit_code = 3 if result.held else 0
    result.message = _message(result)
    return result


def _held_records(hits: Sequence[CheckHit], baseline: Mapping[str, Record]) -> list[HeldRecord]:
    by_record: dict[tuple[str, str], list[str]] = {}
    for hit in hits:
        if hit.severity == "error":
            for mis_id in hit.records:
                by_record.setdefault((hit.type, mis_id), []).append(hit.name)
    return [
        HeldRecord(
            kind,
            mis_id,
            tuple(names),
            mis_id in baseline and baseline[mis_id]["status"] == "active",
        )
        for (kind, mis_id), names in sorted(
            by_record.items(), key=lambda item: (TYPES.index(item[0][0]), natural_key(item[0][1]))
        )
    ]


# -- rendering for the CLI -------------------------------------------------------------------


def _plural(kind: str, n: int) -> str:
    kind_ = RECORD_TYPES[kind]
    return kind_.one if n == 1 else kind_.many


def _message(result: ExportResult) -> str:
    written = ", ".join(f"{f.rows} {_plural(f.type, f.rows)}" for f in result.files) or "no records"
    text = f"exported {written} to {result.out_dir}"
    if result.held:
        text += f"; {len(result.held)} held back by checks"
    return text


def summary_line(result: ExportResult) -> str:
    """One line for the person who ran `bromsync export`."""
    return school_headline(result.name, result.urn, result.message)


def detail_lines(result: ExportResult) -> list[str]:
    """The files written, then each error check with its records, message and fix."""
    lines = [f"file: {f.path} ({f.rows} {_plural(f.type, f.rows)})" for f in result.files]
    archived = [h for h in result.held if h.in_parentpay]
    for hit in result.checks:
        if hit.severity != "error":
            continue
        details = f" ({'; '.join(hit.details)})" if hit.details else ""
        lines.append(
            f"held back {_plural(hit.type, len(hit.records))} {', '.join(hit.records)}{details}: "
            f"{hit.name}: {hit.message} Fix: {hit.remediation}"
        )
    if archived:
        ids = ", ".join(f"{h.type} {h.mis_id}" for h in archived)
        lines.append(
            f"warning: {ids} already in ParentPay and not in the files; a manual upload of these files "
            "archives them. Fix them in Bromcom and export again before uploading."
        )
    return lines
