"""`bromsync match`: fetch both sides, match them, write the report, and re-key on --apply.

The engine half of the data-matching exercise (engine/match/people.py decides who is who). With
--apply the certain and probable matches are sent as `rekey` operations (docs/parentpay-api.md), and
each applied one is recorded as acknowledged in the school's state under its new ID, so the
next `bromsync run` sends that account `update`s instead of a `create` of a second account.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from engine.config.school import SchoolConfig
from engine.digest import digest
from engine.match.people import (
    DECIDE_KINDS,
    REKEY_KINDS,
    Entry,
    display_name,
    match_people,
    order_rekeys,
)
from engine.match.result import MatchResult
from engine.pipeline import Options, Run, open_run, prepare
from engine.records import OpResult, Record, natural_key
from engine.report.match import write_match_files
from engine.state.store import State
from engine.targets import Target
from engine.targets.push import push_and_acknowledge


def run_match(school: SchoolConfig, options: Options, *, apply: bool = False) -> MatchResult:
    """`bromsync match FILE [--out DIR] [--apply]` for one school.

    Writes `<out_dir>/<urn>.match.json` and `.match.md` (out_dir defaults to plans/); with
    `apply`, re-keys the certain and probable matches in ParentPay and records them in the
    school's state. Raises a BromsyncError when Bromcom or ParentPay cannot be read or written.
    """
    with open_run(school, options, "match") as run:
        result = _match(run, apply)
        run.log.status = "ok" if result.exit_code == 0 else "incomplete"
        run.log.baseline, run.log.plan_digest = result.baseline, result.digest
        run.log.message = result.message
    result.state = run.state.path
    return result


def _match(run: Run, apply: bool) -> MatchResult:
    school, state, run_id = run.config, run.state, run.run_id
    prepared = prepare(run)
    with closing(run.options.open_target(run.config)) as target:
        people = target.people(school.parentpay_site_id, status="all")
        records = [r for t in prepared.results for r in t.records]
        entries = match_people(people, records, prepared.types)
        result = _result(run, entries, people, prepared.held, apply)
        out_dir = run.options.out_dir or Path("plans")
        # Written before anything is sent, so the report exists even if ParentPay then fails.
        result.files = write_match_files(result, out_dir)
        if apply:
            _apply(result, state, target)
            result.files = write_match_files(result, out_dir)
    state.set_match_holds(run_id, _holds(entries))
    return result


def _result(
    run: Run, entries: list[Entry], people: list[Record], held: set[str], apply: bool
) -> MatchResult:
    rekeys, _ = order_rekeys(
        [e for e in entries if e.kind in REKEY_KINDS], {p["mis_id"]: p for p in people}
    )
    result = MatchResult(
        name=run.config.name,
        urn=run.config.urn,
        site_id=run.config.parentpay_site_id,
        today=run.today.isoformat(),
        run_id=run.run_id,
        baseline=run.state.baseline_id(),
        entries=entries,
        held=frozenset(held),
        apply=apply,
        rekeys=rekeys,
    )
    result.digest = _digest(result)
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
    return digest(body)


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

    def new_state(answer: OpResult) -> Record:
        entry = result.rekeys[answer["index"]]
        return _state_of(entry, entry.new_id or "")

    def outcome(batch: int, batches: int, results: list[OpResult]) -> None:
        for answer in results:
            entry = result.rekeys[answer["index"]]
            applied = answer["status"] == "applied"
            entry.outcome = (
                "applied" if applied else f"rejected ({answer['code']}): {answer['message']}"
            )

    push_and_acknowledge(
        target,
        state,
        site_id=result.site_id,
        operations=operations,
        key_prefix=prefix,
        run_id=result.run_id,
        digest=result.digest,
        new_state=new_state,
        on_batch=outcome,
    )
