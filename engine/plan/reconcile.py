"""ParentPay as it is now: three ways to see one record before it is diffed.

What Bromcom says (today's records), what ParentPay holds now (one read of the site's people)
and what bromsync last uploaded (its memory) are brought together here, as docs/plan.md
("ParentPay as it is now") says:
- the diff runs against ParentPay as it is, for the records bromsync manages (those it
  uploaded, and those it is about to create), so nothing is created twice;
- a record ParentPay holds under a mis_id bromsync never uploaded is adopted when it is the
  same person, and held back (`mis_id_taken`) when it is someone else;
- a field that differs between ParentPay and the last upload is drift, restored or reported;
- an ID that comes back must be the same person (`identity_changed`);
- a create that looks like someone ParentPay already holds under another ID is held back
  (`possible_duplicate`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.checks.run import CheckHit
from engine.config.school import SchoolConfig
from engine.match import keys
from engine.match.keys import name_key
from engine.match.near import NearIndex, find_near
from engine.records import RECORD_FIELDS, TYPES, Record, natural_key

# Pupil and pre-admission are one person's two stages: a convert keeps the account.
_COMPATIBLE = {("preadmission", "pupil"), ("pupil", "preadmission")}


@dataclass
class Reconciled:
    """What the diff runs against, and what the reconciliation found on the way."""

    baseline: dict[str, Record]  # per managed mis_id, the record to diff against
    adopted: list[Record] = field(default_factory=list)  # ParentPay's records, now managed
    drift: list[dict[str, Any]] = field(default_factory=list)
    drifted: set[tuple[str, str]] = field(default_factory=set)  # (mis_id, field) to restore
    hits: list[CheckHit] = field(default_factory=list)
    unmanaged: dict[str, int] = field(default_factory=dict)

    @property
    def held(self) -> set[str]:
        return {m for h in self.hits if h.severity == "error" for m in h.records}


def same_person(a: Record, b: Record) -> bool:
    """Two records are one person: compatible types, and not different in both date of birth
    and legal surname (staff: they share the surname or the email)."""
    if a["type"] != b["type"] and (a["type"], b["type"]) not in _COMPATIBLE:
        return False
    fa, fb = a["fields"], b["fields"]
    if a["type"] == "staff":
        return _same_text(fa.get("surname"), fb.get("surname")) or (
            bool(fa.get("email")) and _same_text(fa.get("email"), fb.get("email"))
        )
    surname_a = fa.get("legal_surname") or fa.get("surname")
    surname_b = fb.get("legal_surname") or fb.get("surname")
    return fa.get("dob") == fb.get("dob") or _same_text(surname_a, surname_b)


def _same_text(a: Any, b: Any) -> bool:
    return a is not None and b is not None and name_key(str(a)) == name_key(str(b))


def reconcile(
    school: SchoolConfig,
    records: Sequence[Record],
    memory: Mapping[str, Record],
    live: Mapping[str, Record] | None,
    *,
    held: Collection[str] = (),
) -> Reconciled:
    """Bring Bromcom's `records` (not held), bromsync's `memory` and ParentPay's `live` people
    together. `held`: Bromcom's records the checks hold back, still Bromcom's, never counted as
    unmanaged. `live` None is `plan --offline`: the diff runs against the memory alone."""
    if live is None:
        return Reconciled(baseline=dict(memory), hits=_identity(school, records, memory, memory))
    out = Reconciled(baseline={})
    bromcom = {r["mis_id"]: r for r in records}
    taken: list[tuple[Record, Record]] = []
    creates: list[Record] = []
    for mis_id, old in memory.items():
        base = _drift(school, out, old, live.get(mis_id), bromcom.get(mis_id))
        if base is not None:
            out.baseline[mis_id] = base
    for mis_id, record in bromcom.items():
        if mis_id in memory:
            continue
        now = live.get(mis_id)
        if now is None:
            creates.append(record)
        elif same_person(record, now):
            out.adopted.append(now)
            out.baseline[mis_id] = now
        else:
            taken.append((record, now))
    out.hits += _identity(school, records, memory, {**memory, **live})
    out.hits += _taken(taken)
    managed = set(memory) | set(bromcom) | set(held)
    unmanaged = [p for m, p in live.items() if m not in managed]
    out.hits += _possible_duplicates(creates, unmanaged)
    out.unmanaged = {t: sum(1 for p in unmanaged if p["type"] == t) for t in TYPES}
    return out


def _drift(
    school: SchoolConfig, out: Reconciled, old: Record, now: Record | None, bromcom: Record | None
) -> Record | None:
    """The record to diff a managed mis_id against (None: as if ParentPay never had it),
    noting each field ParentPay changed since the last upload."""

    def note(name: str, parentpay: Any, uploaded: Any, value: Any) -> None:
        out.drift.append(
            {
                "type": old["type"],
                "mis_id": old["mis_id"],
                "field": name,
                "parentpay": parentpay,
                "uploaded": uploaded,
                "bromcom": value,
            }
        )

    restore = school.drift == "restore"
    if now is None:
        # Deleted in ParentPay: with restore, Bromcom's record is created again; one Bromcom
        # no longer has is gone either way, so there is nothing left to archive.
        note("status", None, old["status"], None if bromcom is None else "active")
        if bromcom is None:
            return None
        if restore:
            out.drifted.add((old["mis_id"], "status"))
            return None
        return old
    base = {**now, "fields": dict(now["fields"])}
    if now["status"] != old["status"]:
        note("status", now["status"], old["status"], None if bromcom is None else "active")
        if restore:
            out.drifted.add((old["mis_id"], "status"))
        else:
            base["status"] = old["status"]
    if now["type"] == old["type"]:
        for name in RECORD_FIELDS.get(old["type"], ()):
            was, is_ = old["fields"].get(name), now["fields"].get(name)
            if was != is_:
                value = None if bromcom is None else bromcom["fields"].get(name)
                note(name, is_, was, value)
                if restore:
                    out.drifted.add((old["mis_id"], name))
                else:
                    base["fields"][name] = was
    return base


def _identity(
    school: SchoolConfig,
    records: Sequence[Record],
    memory: Mapping[str, Record],
    known: Mapping[str, Record],
) -> list[CheckHit]:
    """An ID bromsync uploaded before that now names someone else is held back."""
    changed: dict[str, list[tuple[Record, Record]]] = {}
    confirmed: dict[str, list[str]] = {}
    for record in records:
        mis_id = record["mis_id"]
        if mis_id not in memory:
            continue
        held = known.get(mis_id) or memory[mis_id]
        if same_person(record, held):
            continue
        if mis_id in school.identity_confirmed:
            confirmed.setdefault(record["type"], []).append(mis_id)
        else:
            changed.setdefault(record["type"], []).append((record, held))
    hits = _held_per_type(
        "identity_changed",
        {kind: {r["mis_id"]: [_pair(r, h)] for r, h in pairs} for kind, pairs in changed.items()},
        message="ParentPay already holds an account under these IDs for someone else "
        "(another type of record, or a different date of birth and legal surname). Sending "
        "them would hand that account, its balance and its history to another person, so "
        "they are held back; the account in ParentPay is left untouched.",
        remediation="In Bromcom, check each person named here. If Bromcom reused an ID for "
        "a new person (or a staff ID now equals a former pupil's), give the new person an "
        "ID of their own (for staff, upload.staff_id_prefix keeps staff and pupil IDs apart). "
        "If it is the same person and both the date of birth and the legal surname were "
        "corrected, add the ID to identity.confirmed in the school file and run again.",
    )
    for kind, ids in sorted(confirmed.items(), key=lambda kv: TYPES.index(kv[0])):
        hits.append(
            CheckHit(
                name="identity_change_confirmed",
                severity="warning",
                type=kind,
                records=sorted(ids, key=natural_key),
                message="These IDs now name a record ParentPay would take for someone else, and "
                "the school file confirms the change (identity.confirmed), so they are sent.",
                remediation="Remove each ID from identity.confirmed once this run has synced it.",
                details=[],
            )
        )
    return hits


def _taken(pairs: Sequence[tuple[Record, Record]]) -> list[CheckHit]:
    found: dict[str, dict[str, list[str]]] = {}
    for record, now in pairs:
        found.setdefault(record["type"], {})[record["mis_id"]] = [_pair(record, now)]
    return _held_per_type(
        "mis_id_taken",
        found,
        message="ParentPay already holds a record under these IDs, not uploaded by bromsync, "
        "for someone else; these Bromcom records are held back so that nobody takes over "
        "another person's account.",
        remediation="Ask ParentPay support whose account each ID is. If it is the same person "
        "with old details, correct the date of birth or surname in Bromcom or ParentPay; if it "
        "is someone else, the record in ParentPay needs another ID (run `bromsync match`).",
    )


def _possible_duplicates(creates: Sequence[Record], unmanaged: Sequence[Record]) -> list[CheckHit]:
    """Creates that look like someone ParentPay holds under another ID: held, never a second account."""
    if not creates or not unmanaged:
        return []
    index = NearIndex(unmanaged)  # built once for every create
    found: dict[str, dict[str, list[str]]] = {}
    for record in creates:
        near = {o["mis_id"]: (o, reasons) for o, reasons in find_near(record, index)}
        for other in unmanaged:
            if other["mis_id"] not in near and (why := _exact(record, other)):
                near[other["mis_id"]] = (other, [why])
        if near:
            found.setdefault(record["type"], {})[record["mis_id"]] = sorted(
                f"{_pair(record, other, other['mis_id'])} ({'; '.join(reasons)})"
                for other, reasons in near.values()
            )
    return _held_per_type(
        "possible_duplicate",
        found,
        message="These new Bromcom records look like people ParentPay already holds under "
        "another ID (their own account from another MIS or made by hand); creating them "
        "could give one child two accounts, so they are held back.",
        remediation="Run `bromsync match` for the school and settle each pair in its report: "
        "re-key the same person to the Bromcom ID (`bromsync match --apply`), or correct the "
        "data in Bromcom or ParentPay if they are not the same person.",
    )


def _held_per_type(
    name: str, found: Mapping[str, Mapping[str, list[str]]], *, message: str, remediation: str
) -> list[CheckHit]:
    """One error check per type holding back `found` (type -> mis_id -> its detail lines)."""
    hits = []
    for kind in (t for t in TYPES if found.get(t)):
        ids = sorted(found[kind], key=natural_key)
        details = [line for mis_id in ids for line in found[kind][mis_id]]
        hits.append(
            CheckHit(
                name=name,
                severity="error",
                type=kind,
                records=ids,
                message=message,
                remediation=remediation,
                details=details,
            )
        )
    return hits


def _pair(bromcom: Record, parentpay: Record, parentpay_id: str = "") -> str:
    """A detail line naming both people: `1003: Bromcom staff Nia Evans; ParentPay pupil ...`."""
    other = f"{parentpay_id} " if parentpay_id else ""
    return f"{bromcom['mis_id']}: Bromcom {_who(bromcom)}; ParentPay {other}{_who(parentpay)}"


def _exact(a: Record, b: Record) -> str:
    """Why `a` and `b` are plainly one person ("" if not), as the data-matching exercise would
    pair them: the same UPN; or a name (preferred or legal) and the date of birth; staff by
    name or by email."""
    if a["type"] != b["type"] and (a["type"], b["type"]) not in _COMPATIBLE:
        return ""
    if keys.upn(a) and keys.upn(a) == keys.upn(b):
        return "the same UPN"
    same_name = bool(keys.names(a) & keys.names(b))
    if a["type"] == "staff":
        if keys.email(a) and keys.email(a) == keys.email(b):
            return "the same email"
        return "the same name" if same_name else ""
    if same_name and a["fields"].get("dob") and a["fields"].get("dob") == b["fields"].get("dob"):
        return "the same name and date of birth"
    return ""


def _who(record: Record) -> str:
    f = record["fields"]
    name = " ".join(str(x) for x in (f.get("forename"), f.get("surname")) if x) or "(no name)"
    born = f" born {f['dob']}" if f.get("dob") else ""
    kind = {"preadmission": "pre-admission"}.get(record["type"], record["type"])
    status = " (archived)" if record.get("status") == "archived" else ""
    return f"{kind} {name}{born}{status}"
