"""The match report: `<urn>.match.json` for tools, `<urn>.match.md` for the school to review.

Each line names both sides (name, date of birth, year, ID) so a data manager can confirm a
pair without opening either system. No free-meal or dietary value is shown: a match does not
need them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from engine.files import write_private
from engine.match.people import KINDS, Entry, display_name
from engine.match.result import MatchFiles, MatchResult
from engine.records import PLURALS, TYPES, Record

_SHOWN = ("forename", "surname", "legal_forename", "legal_surname", "dob", "year_code", "email")
_KIND_ROWS = {
    "certain": "certain (same UPN, or staff name and e-mail)",
    "probable": "probable (same name and date of birth, or staff name)",
    "ambiguous": "ambiguous: to decide",
    "conflict": "conflict: to decide",
    "duplicate": "second account: to decide",
    "possible": "possible match: to decide",
    "already_keyed": "already under the Bromcom ID",
    "only_parentpay": "only in ParentPay (left alone)",
    "only_bromcom": "only in Bromcom (the next run creates them)",
}
_ADVICE = {
    "ambiguous": (
        "Never re-keyed. Until each is settled, do not run bromsync for this school: the next run "
        "would create a new account for each Bromcom record listed here, beside the old one. Ask "
        "ParentPay support to correct the old record (UPN, name or date of birth) so that it fits "
        "one Bromcom record only, or correct Bromcom, then run `bromsync match` again."
    ),
    "conflict": (
        "Never re-keyed: ParentPay already uses the Bromcom ID for another record. Ask ParentPay "
        "support to re-key or archive the record holding it, then run `bromsync match` again."
    ),
    "duplicate": (
        "ParentPay holds two accounts for one person: the one under the Bromcom ID (which bromsync "
        "keeps up to date) and this older one. Ask ParentPay support to merge them, so that the "
        "balance and payment history end up on one account."
    ),
    "possible": (
        "Never re-keyed. Each Bromcom record below is not the same as the ParentPay record beside "
        "it by UPN, or by name and date of birth, but is close enough that it may be the same "
        "person, typed differently by the old MIS (the reasons say how). Until it is settled, "
        "bromsync holds the Bromcom record back, so the next run cannot create a second account "
        "beside the old one. **If they are the same person**, correct the name or date of birth in "
        "Bromcom, or ask ParentPay support to correct the old record, so that the two agree "
        "exactly, then run `bromsync match` again: it proposes the re-key. **If they are "
        "different people**, there is nothing to correct, but bromsync cannot yet be told so: the "
        "Bromcom record stays held back (the error check `awaiting_data_matching`) until it can. "
        "Tell your bromsync support both IDs of the line."
    ),
}


def person_json(record: Record, held: Collection[str] = ()) -> dict[str, Any]:
    """One side of a match as the JSON report shows it: identity only, nothing sensitive."""
    out: dict[str, Any] = {"mis_id": record["mis_id"], "type": record["type"]}
    if "status" in record:
        out["status"] = record["status"]
    else:
        out["held"] = record["mis_id"] in held
    out |= {k: record["fields"][k] for k in _SHOWN if k in record["fields"]}
    return out


def summary(entries: Sequence[Entry]) -> dict[str, dict[str, int]]:
    """Entries by kind, then by type."""
    counts = {kind: dict.fromkeys(TYPES, 0) for kind in KINDS}
    for entry in entries:
        counts[entry.kind][entry.type] += 1
    return counts


def match_json(result: MatchResult) -> dict[str, Any]:
    """The match report as data (`<urn>.match.json`)."""
    return {
        "format_version": 1,
        "school": {"urn": result.urn, "name": result.name},
        "site_id": result.site_id,
        "today": result.today,
        "run_id": result.run_id,
        "baseline": result.baseline,
        "digest": result.digest,
        "summary": summary(result.entries),
        "entries": [
            {
                "kind": e.kind,
                "type": e.type,
                "old_mis_id": e.old_id,
                "new_mis_id": e.new_id,
                "reason": e.reason,
                "parentpay": [person_json(p) for p in e.parentpay],
                "bromcom": [person_json(p, result.held) for p in e.bromcom],
                "holder": None if e.holder is None else person_json(e.holder),
                "near": [list(why) for why in e.near],
                "outcome": e.outcome,
            }
            for e in result.entries
        ],
        "apply": result.apply,
        "refused": result.refused,
        "adopted": result.adopted,
        "exit_code": result.exit_code,
    }


def write_match_files(result: MatchResult, out_dir: Path) -> MatchFiles:
    """`<urn>.match.json` and `<urn>.match.md` in `out_dir`."""

    files = MatchFiles(out_dir / f"{result.urn}.match.json", out_dir / f"{result.urn}.match.md")
    write_private(files.json, json.dumps(match_json(result), indent=2, ensure_ascii=False) + "\n")
    write_private(files.markdown, render_match_report(result))
    return files


# -- Markdown ----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _who(record: Record, held: Collection[str]) -> str:
    notes = []
    if record.get("status") == "archived":
        notes.append("archived")
    if "status" not in record and record["mis_id"] in held:
        notes.append("held back by a check")
    if record["type"] == "staff" and record["fields"].get("email"):
        notes.append(record["fields"]["email"])
    return display_name(record) + (f" ({', '.join(notes)})" if notes else "")


def _side(records: Sequence[Record], held: Collection[str]) -> str:
    return " or ".join(f"{r['mis_id']} {_who(r, held)}" for r in records) or "-"


def _values(records: Sequence[Record], name: str) -> str:
    seen = list(dict.fromkeys(str(r["fields"].get(name) or "-") for r in records))
    return " / ".join(seen) if records else ""


def _ids(entry: Entry) -> str:
    old = " or ".join(r["mis_id"] for r in entry.parentpay)
    new = " or ".join(r["mis_id"] for r in entry.bromcom)
    if entry.holder is not None:
        new += f" (held by {entry.holder['mis_id']})"
    if old == new:
        return old
    if old and new:
        return f"{old} → {new}"
    return old or f"→ {new}"


def _table(
    entries: Sequence[Entry], held: Collection[str], *, rekeys: bool, outcome: bool
) -> list[str]:
    head = "| type | ParentPay | Bromcom | date of birth | year | ID | reason |"
    rule = "|---|---|---|---|---|---|---|"
    if rekeys:
        head, rule = "| match " + head, "|---" + rule
    if outcome:
        head, rule = head + " outcome |", rule + "---|"
    lines = [head, rule]
    for e in entries:
        both = [*e.parentpay, *e.bromcom]
        cells = [
            e.type,
            _side(e.parentpay, held),
            _side(e.bromcom, held),
            _values(both, "dob") if e.type != "staff" else "",
            _values(both, "year_code") if e.type != "staff" else "",
            _ids(e),
            e.reason,
        ]
        if rekeys:
            cells.insert(0, e.kind)
        if outcome:
            cells.append(e.outcome or "not sent")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _possible_table(entries: Sequence[Entry], held: Collection[str]) -> list[str]:
    """One line per possible pair, Bromcom first: the reasons name its value first too."""
    lines = [
        "| type | Bromcom | date of birth | ParentPay | date of birth | why they may be one person |",
        "|---|---|---|---|---|---|",
    ]
    for e in entries:
        [pp] = e.parentpay
        for bc, why in zip(e.bromcom, e.near, strict=True):
            staff = e.type == "staff"
            cells = [
                e.type if bc["type"] == pp["type"] else f"{bc['type']} / {pp['type']}",
                _side([bc], held),
                "" if staff else str(bc["fields"].get("dob") or "-"),
                _side([pp], held),
                "" if staff else str(pp["fields"].get("dob") or "-"),
                "; ".join(why),
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _where(result: MatchResult) -> str:
    """The report sections that hold what a person must decide."""
    kinds = {e.kind for e in result.to_decide}
    where = ['"To decide"'] if kinds - {"possible"} else []
    return " and ".join([*where, '"Possible matches"'] if "possible" in kinds else where)


def _headline(result: MatchResult) -> list[str]:
    rekeys, decide = len(result.rekeys), len(result.to_decide)
    lines = []
    if result.refused:
        lines.append(f"**--apply was refused:** {result.refused}")
    elif result.apply:
        applied = sum(e.outcome == "applied" for e in result.rekeys)
        lines.append(
            f"**Applied:** {applied} of {rekeys} re-keyed in ParentPay"
            + (
                f", {len(result.rejected)} rejected (see the outcome column)"
                if result.rejected
                else ""
            )
            + (
                f"; {result.adopted} records already under their Bromcom ID recorded as uploaded"
                if result.adopted
                else ""
            )
            + ". The next `bromsync run` updates these accounts instead of creating new ones."
        )
    elif rekeys:
        lines.append(
            f"**{rekeys} to re-key.** Check each pair below; `bromsync match FILE --apply` re-keys the "
            "certain and probable ones."
        )
    if decide:
        where = _where(result)
        lines.append(f"**{decide} to decide by a person** before the first run: see {where}.")
    elif not result.refused:
        lines.append("Nothing needs a person's decision.")
    return lines


def render_match_report(result: MatchResult) -> str:
    """The Markdown match report (`<urn>.match.md`)."""
    counts = summary(result.entries)
    lines = [
        f"# Data matching: {result.name} (URN {result.urn})",
        "",
        f"ParentPay site {result.site_id}, matched against Bromcom's records of {result.today}.",
        "",
        *(line for text in _headline(result) for line in (text, "")),
        "## Summary",
        "",
        "| | " + " | ".join(PLURALS[t] for t in TYPES) + " |",
        "|---|" + "---:|" * len(TYPES),
    ]
    for kind in KINDS:
        lines.append(
            f"| {_KIND_ROWS[kind]} | " + " | ".join(str(counts[kind][t]) for t in TYPES) + " |"
        )
    held = result.held
    sections = [
        ("Re-keys (certain and probable)", _of(result, "certain") + _of(result, "probable"), None, True),
        ("To decide: ambiguous", _of(result, "ambiguous"), _ADVICE["ambiguous"], False),
        ("To decide: conflicts", _of(result, "conflict"), _ADVICE["conflict"], False),
        ("To decide: second accounts", _of(result, "duplicate"), _ADVICE["duplicate"], False),
        ("Possible matches: a person must decide", _of(result, "possible"), _ADVICE["possible"], False),
        ("Already under their Bromcom ID", _of(result, "already_keyed"), None, False),
        ("Only in ParentPay (left alone)", _of(result, "only_parentpay"),
         "No Bromcom record on roll today matches them; bromsync never changes them.", False),
        ("Only in Bromcom (the next run creates them)", _of(result, "only_bromcom"), None, False),
    ]  # fmt: skip
    for title, entries, advice, rekey in sections:
        if not entries:
            continue
        lines += ["", f"## {title}", ""]
        if advice:
            lines += [advice, ""]
        if entries[0].kind == "possible":
            lines += _possible_table(entries, held)
            continue
        lines += _table(
            entries, held, rekeys=rekey, outcome=rekey and result.apply and not result.refused
        )
    return "\n".join(lines) + "\n"


def _of(result: MatchResult, kind: str) -> list[Entry]:
    return [e for e in result.entries if e.kind == kind]


def render_match_summary(result: MatchResult) -> str:
    """What the terminal shows after `bromsync match`: the outcome and where the report is."""
    mark = "✔" if result.exit_code == 0 else "!"
    lines = [f"{mark} {result.name} ({result.urn}): {result.message}"]
    if result.refused:
        lines.append(f"    {result.refused}")
    for entry in result.rejected:
        lines.append(
            f"    rejected rekey {entry.type} {entry.old_id} -> {entry.new_id}: {entry.outcome}"
        )
    if result.to_decide:
        where = _where(result)
        lines.append(
            f"    {len(result.to_decide)} to decide by a person: see {where} in the report"
        )
    if result.files is not None:
        lines.append(f"    report: {result.files.markdown} (and {result.files.json.name})")
    return "\n".join(lines)
