"""Matching: which records ParentPay already holds belong to which Bromcom records.

The data-matching exercise of a school that moves to Bromcom from another MIS (docs/rules.md,
"Records and identity"): ParentPay's existing records carry the old MIS's IDs, and each must
be re-keyed to its Bromcom ID before the first upload, or that upload creates a second
account for the same child and the balance stays on the first. This module is the pure
part: ParentPay's people and today's mapped Bromcom records in, a list of `Entry` out. It
never guesses: a pair is proposed only when nothing else could fit either side; pairs that
are only near (engine/match/near.py: a nickname, a typing slip, a date a day out) are listed
as possible matches for a person to decide.
docs/matching.md describes the rules for support staff.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.match.keys import (
    COMPATIBLE,
    accentless_keys,
    display_name,
    email,
    emails_differ,
    in_scope,
    name_dob_keys,
    name_key,
    name_reason,
    same_person,
    staff_email_keys,
    staff_name_keys,
    upn,
    upn_keys,
)
from engine.match.near import NearIndex, find_near
from engine.records import TYPES, Record, natural_key

__all__ = [
    "DECIDE_KINDS",
    "KINDS",
    "REKEY_KINDS",
    "Entry",
    "display_name",
    "match_people",
    "name_key",
    "order_rekeys",
]

# Kinds of entry, in report order. certain and probable are the re-keys --apply sends.
REKEY_KINDS = ("certain", "probable")
# A person must decide (exit 3); `bromsync match` holds their Bromcom records back meanwhile.
DECIDE_KINDS = ("ambiguous", "conflict", "duplicate", "possible")
KINDS = (*REKEY_KINDS, *DECIDE_KINDS, "already_keyed", "only_parentpay", "only_bromcom")


@dataclass(eq=False)  # entries are compared by identity: each is one line of the report
class Entry:
    """One line of the match report: ParentPay records, Bromcom records, and what to do."""

    kind: str
    type: str  # the ParentPay record's type (the Bromcom one's when there is none)
    parentpay: tuple[Record, ...]
    bromcom: tuple[Record, ...]
    reason: str
    holder: Record | None = None  # a conflict's ParentPay record that holds the Bromcom ID
    outcome: str | None = None  # after --apply: "applied", "rejected (code): message"
    near: tuple[tuple[str, ...], ...] = ()  # a possible match's reasons, one per Bromcom record

    @property
    def old_id(self) -> str | None:
        return self.parentpay[0]["mis_id"] if len(self.parentpay) == 1 else None

    @property
    def new_id(self) -> str | None:
        return self.bromcom[0]["mis_id"] if len(self.bromcom) == 1 else None

    def operation(self) -> dict[str, Any]:
        """The `rekey` operation of a certain or probable match (docs/parentpay-api.md)."""
        assert self.kind in REKEY_KINDS and self.old_id and self.new_id
        return {
            "op": "rekey",
            "type": self.type,
            "mis_id": self.old_id,
            "fields": {"new_mis_id": self.new_id},
        }


# -- pairing -----------------------------------------------------------------------------------

Keys = Callable[[Record], Iterable[Any]]


def _candidates(
    left: Sequence[Record], right: Sequence[Record], keys: Keys
) -> dict[str, list[Record]]:
    """For each left record (by mis_id), the right records sharing a key with it, type permitting.

    Through an index on the keys, so a school of 2,000 pupils costs two passes, not 4 million
    comparisons.
    """
    index: dict[Any, list[Record]] = defaultdict(list)
    for record in right:
        for key in keys(record):
            index[key].append(record)
    out: dict[str, list[Record]] = {}
    for record in left:
        found: dict[str, Record] = {}
        for key in keys(record):
            for other in index.get(key, ()):
                if other["type"] in COMPATIBLE[record["type"]]:
                    found[other["mis_id"]] = other
        out[record["mis_id"]] = sorted(found.values(), key=lambda r: natural_key(r["mis_id"]))
    return out


def _unique_pairs(
    left: Sequence[Record], right: Sequence[Record], keys: Keys
) -> tuple[list[tuple[Record, Record]], dict[str, list[Record]]]:
    """Pairs whose two records have each other as their only candidate; the rest's candidates."""
    found = _candidates(left, right, keys)
    back: dict[str, int] = defaultdict(int)
    for cands in found.values():
        for other in cands:
            back[other["mis_id"]] += 1
    pairs, unsure = [], {}
    for record in left:
        cands = found[record["mis_id"]]
        if len(cands) == 1 and back[cands[0]["mis_id"]] == 1:
            pairs.append((record, cands[0]))
        elif cands:
            unsure[record["mis_id"]] = cands
    return pairs, unsure


def match_people(
    parentpay: Sequence[Record],
    bromcom: Sequence[Record],
    types: Collection[str],
    not_same: Collection[tuple[str, str]] = (),
) -> list[Entry]:
    """Every ParentPay record of the uploaded `types` and every Bromcom record in one entry or more.

    `parentpay` are all of ParentPay's people (with status); those of other types are not
    matched but still hold their IDs. `bromcom` are today's mapped records. `not_same` are
    (ParentPay mis_id, Bromcom mis_id) pairs a person has found to be two people: never a
    possible match. Each ParentPay record is in exactly one entry, and so is each Bromcom
    record, except that a ParentPay record holding an ID a conflict needs is named there too,
    and a Bromcom record near several ParentPay records is in each of their possible matches.
    """
    entries: list[Entry] = []
    by_id = {r["mis_id"]: r for r in bromcom}
    keyed_bc: list[Record] = []
    pp_left: list[Record] = []
    for pp in (r for r in parentpay if in_scope(r, types)):
        bc = by_id.get(pp["mis_id"])
        if bc is not None and bc["type"] in COMPATIBLE[pp["type"]] and same_person(pp, bc):
            reason = "ParentPay already uses the Bromcom ID"
            if pp["type"] != bc["type"]:
                reason += (
                    "; the next run converts this pre-admission to a pupil, keeping the account"
                )
            entries.append(Entry("already_keyed", pp["type"], (pp,), (bc,), reason))
            keyed_bc.append(bc)
        else:
            pp_left.append(pp)
    keyed_ids = {bc["mis_id"] for bc in keyed_bc}
    bc_left = [r for r in bromcom if r["mis_id"] not in keyed_ids]

    def take(
        pairs: list[tuple[Record, Record]], kind: str, reason: Callable[[Record, Record], str]
    ) -> None:
        nonlocal pp_left, bc_left
        for pp, bc in pairs:
            entries.append(Entry(kind, pp["type"], (pp,), (bc,), reason(pp, bc)))
        used_pp = {pp["mis_id"] for pp, _ in pairs}
        used_bc = {bc["mis_id"] for _, bc in pairs}
        pp_left = [r for r in pp_left if r["mis_id"] not in used_pp]
        bc_left = [r for r in bc_left if r["mis_id"] not in used_bc]

    def undecided(
        unsure: dict[str, list[Record]], reason: Callable[[Record, list[Record]], str]
    ) -> None:
        # The candidates are out of later passes too: a record two people might be is not
        # proposed for a third on weaker evidence.
        nonlocal pp_left, bc_left
        for pp in pp_left:
            cands = unsure.get(pp["mis_id"])
            if cands:
                entries.append(
                    Entry("ambiguous", pp["type"], (pp,), tuple(cands), reason(pp, cands))
                )
        pp_left = [r for r in pp_left if r["mis_id"] not in unsure]
        gone = {bc["mis_id"] for cands in unsure.values() for bc in cands}
        bc_left = [r for r in bc_left if r["mis_id"] not in gone]

    # 1. The UPN is a child's national identifier: the same UPN is the same child.
    pairs, unsure = _unique_pairs(pp_left, bc_left, upn_keys)
    take(pairs, "certain", lambda pp, bc: "same UPN")
    undecided(
        unsure,
        lambda pp, c: "the same UPN is on several records; correct the UPN in Bromcom or ParentPay",
    )

    # 2. Name and date of birth, unless both have a UPN and they differ.
    pairs, unsure = _unique_pairs(pp_left, bc_left, name_dob_keys)
    take([(pp, bc) for pp, bc in pairs if not (upn(pp) and upn(bc))], "probable", name_reason)
    undecided(
        {pp["mis_id"]: [bc] for pp, bc in pairs if upn(pp) and upn(bc)} | unsure,
        lambda pp, c: (
            "same name and date of birth but different UPNs"
            if len(c) == 1
            else "several records share this name and date of birth"
        ),
    )

    # 3. Staff by name; an e-mail both sides have must agree (and makes the match certain).
    #    Then by e-mail and surname: a preferred forename (Dai for Dafydd) is often all that differs.
    pairs, unsure = _unique_pairs(pp_left, bc_left, staff_name_keys)
    unsure |= {pp["mis_id"]: [bc] for pp, bc in pairs if emails_differ(pp, bc)}
    # Among namesakes, an e-mail one pair shares and nobody else does settles it too.
    same_email = [
        (pp, bc)
        for pp in pp_left
        for bc in unsure.get(pp["mis_id"], [])
        if email(pp) == email(bc) != ""
    ]
    same_email += [(pp, bc) for pp, bc in pairs if email(pp) == email(bc) != ""]
    settled = [
        (p, b)
        for p, b in same_email
        if [x for _, x in same_email].count(b) == 1 and [x for x, _ in same_email].count(p) == 1
    ]
    take(settled, "certain", lambda pp, bc: "same name and e-mail")
    for pp, _ in settled:
        unsure.pop(pp["mis_id"], None)
    take(
        [(pp, bc) for pp, bc in pairs if not email(pp) or not email(bc)],
        "probable",
        lambda pp, bc: "same name (no e-mail to compare)",
    )
    undecided(
        unsure,
        lambda pp, c: (
            "same name but the e-mails differ" if len(c) == 1 else "several staff have this name"
        ),
    )
    pairs, unsure = _unique_pairs(pp_left, bc_left, staff_email_keys)
    take(pairs, "probable", lambda pp, bc: "same e-mail and surname; the forenames differ")
    undecided(unsure, lambda pp, c: "several staff share this e-mail and surname")

    # 4. Names that differ only in accents: an older MIS may have dropped them. Shown, never applied.
    pairs, unsure = _unique_pairs(pp_left, bc_left, accentless_keys)
    near = {pp["mis_id"]: [bc] for pp, bc in pairs} | unsure
    undecided(near, lambda pp, c: "same date of birth; the names differ only in accents")

    # 5. Near misses (a nickname, a typing slip, a date a day out): possible matches, in _clashes.
    entries += _clashes(entries, pp_left, bc_left, keyed_bc, parentpay, not_same)
    order = {kind: i for i, kind in enumerate(KINDS)}
    entries.sort(
        key=lambda e: (order[e.kind], TYPES.index(e.type), natural_key(e.new_id or e.old_id or ""))
    )
    return entries


def _clashes(
    entries: list[Entry],
    pp_left: list[Record],
    bc_left: list[Record],
    keyed_bc: Sequence[Record],
    parentpay: Sequence[Record],
    not_same: Collection[tuple[str, str]],
) -> list[Entry]:
    """Re-keys onto an ID ParentPay still uses, duplicates, possible matches, and what is left.

    Re-keys are reclassed `certain`/`probable` -> `conflict` in place when their new ID stays
    taken (a cycle of swaps, or a record nothing moves); `order_rekeys` gives the order that
    frees each ID before it is needed.
    """
    out: list[Entry] = []
    occupant = {pp["mis_id"]: pp for pp in parentpay}
    rekeys = [e for e in entries if e.kind in REKEY_KINDS]
    _, stuck = order_rekeys(rekeys, occupant)
    for entry in stuck:
        holder = occupant[entry.new_id or ""]
        entry.kind = "conflict"
        entry.holder = holder
        entry.reason += (
            f"; but ParentPay already uses {entry.new_id} for {display_name(holder)}'s {holder['status']} "
            f"{holder['type']} record, so ParentPay support must move that one first"
        )
    stuck_ids = {id(e) for e in stuck}
    free = {e.old_id for e in rekeys if id(e) not in stuck_ids}
    held_by = {i: r for i, r in occupant.items() if i not in free}

    # A record left over in ParentPay that looks like a person already keyed is a second account.
    seen: set[str] = set()
    for finder in (upn_keys, name_dob_keys, staff_name_keys):
        found = _candidates([r for r in pp_left if r["mis_id"] not in seen], keyed_bc, finder)
        for pp in pp_left:
            cands = found.get(pp["mis_id"])
            if cands and pp["mis_id"] not in seen:
                seen.add(pp["mis_id"])
                out.append(
                    Entry(
                        "duplicate",
                        pp["type"],
                        (pp,),
                        tuple(cands),
                        "looks like a second account of someone ParentPay already holds under the "
                        "Bromcom ID; ask ParentPay support to merge the two (and their balances)",
                    )
                )
    # Only then the near misses: a record with an exact match (a second account) is not also
    # a possible match, nor is a Bromcom record whose ID another record holds (a conflict).
    possible = _possible(
        [pp for pp in pp_left if pp["mis_id"] not in seen],
        [bc for bc in bc_left if bc["mis_id"] not in held_by],
        not_same,
    )
    out += possible
    seen |= {e.parentpay[0]["mis_id"] for e in possible}
    near_bc = {bc["mis_id"] for e in possible for bc in e.bromcom}
    for pp in pp_left:
        if pp["mis_id"] not in seen:
            out.append(
                Entry(
                    "only_parentpay", pp["type"], (pp,), (), "no Bromcom record matches; left alone"
                )
            )
    for bc in bc_left:
        occupied_by = held_by.get(bc["mis_id"])
        if bc["mis_id"] in near_bc:
            continue
        if occupied_by is not None:
            out.append(
                Entry(
                    "conflict",
                    bc["type"],
                    (),
                    (bc,),
                    f"ParentPay uses this ID for a different person ({display_name(occupied_by)}), so the "
                    "next run could not create this Bromcom record; ParentPay support must re-key or "
                    "archive that record",
                    holder=occupied_by,
                )
            )
        else:
            out.append(Entry("only_bromcom", bc["type"], (), (bc,), "the next run creates it"))
    return out


def _possible(
    pp_left: Sequence[Record], bc_left: Sequence[Record], not_same: Collection[tuple[str, str]]
) -> list[Entry]:
    """ParentPay records left over that may be a Bromcom record left over: one entry each."""
    index = NearIndex(pp_left)
    near: dict[str, list[tuple[Record, list[str]]]] = defaultdict(list)
    for bc in bc_left:
        for pp, reasons in find_near(bc, index):
            if (pp["mis_id"], bc["mis_id"]) not in not_same:
                near[pp["mis_id"]].append((bc, reasons))
    out = []
    for pp in pp_left:
        found = sorted(near.get(pp["mis_id"], ()), key=lambda f: natural_key(f[0]["mis_id"]))
        if not found:
            continue
        if len(found) == 1:
            reason = "; ".join(found[0][1])
        else:
            reason = "; ".join(f"{bc['mis_id']}: {', '.join(why)}" for bc, why in found)
        out.append(
            Entry(
                "possible",
                pp["type"],
                (pp,),
                tuple(bc for bc, _ in found),
                reason,
                near=tuple(tuple(why) for _, why in found),
            )
        )
    return out


def order_rekeys(
    rekeys: Sequence[Entry], occupant: dict[str, Record]
) -> tuple[list[Entry], list[Entry]]:
    """Re-keys in an order ParentPay accepts, and those it never could.

    ParentPay applies a batch's operations in order and refuses a re-key onto a used ID, so a
    re-key onto an ID another re-key frees goes after it; a cycle (two records swapping IDs)
    or an ID nothing frees is stuck.
    """
    taken = set(occupant)
    pending = list(rekeys)
    ordered: list[Entry] = []
    while pending:
        ready = [e for e in pending if e.new_id not in taken]
        if not ready:
            break
        for entry in ready:
            taken.discard(entry.old_id or "")
            taken.add(entry.new_id or "")
            ordered.append(entry)
        moved = {id(e) for e in ready}
        pending = [e for e in pending if id(e) not in moved]
    return ordered, pending
