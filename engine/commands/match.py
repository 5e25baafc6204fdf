"""`bromsync match`: fetch both sides, match them, write the report, and re-key on --apply.

The engine half of the data-matching exercise (engine/match/people.py decides who is who). With
--apply the certain and probable matches are sent as `rekey` operations (CONTRACTS 5), and
each applied one is recorded as acknowledged in the school's state under its new ID, so the
next `bromsync run` sends that account `update`s instead of a `create` of a second account.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine import clock
from engine.config.school import SchoolConfig
from engine.match.people import (
    DECIDE_KINDS,
    REKEY_KINDS,
    Entry,
    display_name,
    match_people,
    order_rekeys,
)
from engine.pipeline import Options, fetch_and_check
from engine.records import OpResult, Record, natural_key
from engine.report.match import write_match_files
from engine.state.store import State, state_path
from engine.targets import TARGETS, Target


@dataclass(frozen=True)
class MatchFiles:
    """Where a match report was written."""

    json: Path
    markdown: Path


@dataclass
class MatchResult:
    """One school's data-matching exercise, and what --apply did."""

    name: str
    urn: int
    site_id: int
    today: str
    run_id: str
    baseline: str | None  # the school's last acknowledged upload when the match was made
    entries: list[Entry]
    held: frozenset[str] = frozenset()  # Bromcom records today's checks hold back
    digest: str = ""
    apply: bool = False  # --apply was asked for
    refused: str | None = None  # why --apply sent nothing
    adopted: int = 0  # records already under their Bromcom ID, now recorded as uploaded
    files: MatchFiles | None = None
    state: Path | None = None
    rekeys: list[Entry] = field(default_factory=list)  # certain and probable, in sending order

    @property
    def to_decide(self) -> list[Entry]:
        return [e for e in self.entries if e.kind in DECIDE_KINDS]

    @property
    def rejected(self) -> list[Entry]:
        return [e for e in self.rekeys if e.outcome not in (None, "applied")]

    @property
    def exit_code(self) -> int:
        """0 nothing to decide; 3 a person must decide something, or --apply did not all go."""
        return 3 if self.to_decide or self.refused or self.rejected else 0

    @property
    def message(self) -> str:
        parts = [f"{len(self.rekeys)} to re-key"]
        parts += [
            f"{n} {kind}"
            for kind in DECIDE_KINDS
            if (n := sum(e.kind == kind for e in self.entries))
        ]
        if self.apply:
            if self.refused:
                parts.append("--apply refused, nothing sent")
            else:
                parts.append(f"{sum(e.outcome == 'applied' for e in self.rekeys)} re-keyed")
                if self.rejected:
                    parts.append(f"{len(self.rejected)} rejected by ParentPay")
        return ", ".join(parts)


def run_match(school: SchoolConfig, options: Options, *, apply: bool = False) -> MatchResult:
    """`bromsync match FILE [--out DIR] [--apply]` for one school.

    Writes `<out_dir>/<urn>.match.json` and `.match.md` (out_dir defaults to plans/); with
    `apply`, re-keys the certain and probable matches in ParentPay and records them in the
    school's state. Raises a BromsyncError when Bromcom or ParentPay cannot be read or written.
    """
    path = state_path(options.state_dir, school.urn)
    with (
        State(path) as state,
        state.run(urn=school.urn, school=school.name, command="match", today=clock.today()) as log,
    ):
        result = _match(school, options, state, log.run_id, apply)
        log.status = "ok" if result.exit_code == 0 else "incomplete"
        log.baseline, log.plan_digest, log.message = result.baseline, result.digest, result.message
    result.state = path
    return result


def _match(
    school: SchoolConfig, options: Options, state: State, run_id: str, apply: bool
) -> MatchResult:
    results, checked = fetch_and_check(school, options, state, run_id)
    target = (options.target_factory or TARGETS["parentpay"])()
    people = target.people(school.parentpay_site_id, status="all")
    records = [r for t in results for r in t.records]
    entries = match_people(people, records, {t.type for t in results})
    rekeys, _ = order_rekeys(
        [e for e in entries if e.kind in REKEY_KINDS], {p["mis_id"]: p for p in people}
    )
    result = MatchResult(
        name=school.name,
        urn=school.urn,
        site_id=school.parentpay_site_id,
        today=clock.today().isoformat(),
        run_id=run_id,
        baseline=state.baseline_id(),
        entries=entries,
        held=frozenset(checked.held),
        apply=apply,
        rekeys=rekeys,
    )
    result.digest = _digest(result)
    out_dir = options.out_dir or Path("plans")
    # Written before anything is sent, so the report exists even if ParentPay then fails.
    result.files = write_match_files(result, out_dir)
    if apply:
        _apply(result, state, target)
        result.files = write_match_files(result, out_dir)
    state.set_match_holds(run_id, _holds(entries))
    return result


def _holds(entries: Sequence[Entry]) -> list[tuple[str, str, str]]:
    """Bromcom records that must wait: what a person must decide, and matches not yet re-keyed.

    Until then `plan`, `run` and `export` hold them back, so that no second account is made
    for someone ParentPay already knows under the old MIS's ID.
    """
    holds = []
    for entry in entries:
        waiting = entry.kind in DECIDE_KINDS or (
            entry.kind in REKEY_KINDS and entry.outcome != "applied"
        )
        if waiting:
            for record in entry.bromcom:
                holds.append((record["mis_id"], record["type"], f"{entry.kind}: {entry.reason}"))
    return holds


def _digest(result: MatchResult) -> str:
    """What the re-keys are and what they start from: the Idempotency-Key prefix's source.

    The baseline is part of it, so a retry after a failure replays the same upload (ParentPay
    applies nothing twice), while the same re-keys made again after a later upload are new.
    """
    body = {
        "site": result.site_id,
        "baseline": result.baseline,
        "rekeys": [e.operation() for e in result.rekeys],
        "adopt": sorted(e.old_id or "" for e in result.entries if e.kind == "already_keyed"),
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _state_of(entry: Entry, mis_id: str) -> Record:
    """The ParentPay record as ParentPay holds it after a re-key: type, status, fields kept."""
    pp = entry.parentpay[0]
    return {
        "mis_id": mis_id,
        "type": pp["type"],
        "status": pp["status"],
        "fields": dict(pp["fields"]),
    }


def refusal(result: MatchResult, baseline: dict[str, Record]) -> str | None:
    """Why --apply must not re-key: bromsync already uploaded records these re-keys touch."""
    touched = sorted(
        {i for e in result.rekeys for i in (e.old_id, e.new_id) if i in baseline},
        key=natural_key,
    )
    if not touched:
        return None
    names = ", ".join(
        f"{i} ({baseline[i]['type']} {display_name(baseline[i])})" for i in touched[:10]
    ) + (f" and {len(touched) - 10} more" if len(touched) > 10 else "")
    return (
        f"nothing was re-keyed: bromsync has already uploaded {len(touched)} of the IDs these re-keys "
        f"would move or take ({names}). Those accounts are not left over from another MIS, and "
        "re-keying them would leave bromsync's record of ParentPay wrong (the next run would archive "
        "or re-create them). Ask ParentPay support which account is the right one for each person in "
        "the match report; if upload.staff_id_prefix was changed since the first upload, change it back."
    )


def _apply(result: MatchResult, state: State, target: Target) -> None:
    baseline = state.uploaded()
    result.refused = refusal(result, baseline)
    if result.refused:
        return
    prefix = f"bromsync-match-{result.urn}-{result.digest[:24]}"
    # Records already under their Bromcom ID that bromsync has not uploaded: ParentPay holds
    # them, so the next run must update them, not create them again (refused `exists`).
    adopt = [e for e in result.entries if e.kind == "already_keyed" and e.old_id not in baseline]
    if adopt:
        state.acknowledge(
            run_id=result.run_id,
            plan_digest=result.digest,
            batch=0,
            key=f"{prefix}-adopted",
            upload_id=f"match-{result.run_id}",
            results=[],
            new_states=[_state_of(e, e.old_id or "") for e in adopt],
        )
        result.adopted = len(adopt)
    operations = [e.operation() for e in result.rekeys]
    if not operations:
        return

    def acknowledge(batch: int, batches: int, results: list[OpResult]) -> None:
        new_states = []
        for answer in results:
            entry = result.rekeys[answer["index"]]
            answer["operation"] = operations[answer["index"]]
            if answer["status"] == "applied":
                entry.outcome = "applied"
                new_states.append(_state_of(entry, entry.new_id or ""))
            else:
                entry.outcome = f"rejected ({answer['code']}): {answer['message']}"
        state.acknowledge(
            run_id=result.run_id,
            plan_digest=result.digest,
            batch=batch,
            key=results[0]["idempotency_key"],
            upload_id=results[0]["upload_id"],
            results=results,
            new_states=new_states,
        )

    target.push(result.site_id, operations, prefix, on_batch=acknowledge)
