"""The report's content: the plan told as school events, for the person who reviews it before
anything is pushed.

`build_report` turns a plan into a `Report`: new starters, leavers, returners, moves, name and
payer changes... grouped by year group, every value already formatted and masked. The Markdown
(engine/report/markdown.py) and the HTML page (engine/report/html.py) only lay it out, so they cannot
disagree about what a reviewer sees, nor about what is masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.plan.guards import advice, blocking
from engine.plan.plan import Plan, summary_line
from engine.records import (
    OPS,
    PARENTPAY_YEAR_CODES,
    RECORD_FIELDS,
    RECORD_TYPES,
    SENSITIVE_FIELDS,
    Record,
    natural_key,
)

MASK = "***"
BLANK = "blank"  # an empty value on either side of a before -> after
# fmt: off
_OP_HEADS = ("New", "Updated", "Archived", "Restored", "Converted", "Unchanged")  # OPS + unchanged
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
LABELS = {
    "upn": "UPN", "admission_number": "admission number", "legal_forename": "legal forename",
    "legal_surname": "legal surname", "dob": "date of birth", "year_code": "year", "reg_group": "class",
    "fsm": "free meals", "fsm_start": "free meals from", "fsm_end": "free meals until",
    "payer_email": "payer email", "payer_mobile": "payer mobile", "dietary": "dietary needs",
    "admission_date": "admission date",
}
_FSM = ("fsm", "fsm_start", "fsm_end")
# An update is told once, under the first of these its fields touch, else under "other".
_UPDATE_KINDS = {
    "move": ("year_code", "reg_group"),
    "fsm": _FSM,
    "name": ("title", "forename", "surname", "legal_forename", "legal_surname"),
    "contact": ("payer_email", "payer_mobile", "email", "mobile"),
    "dietary": ("dietary",),
}
EVENT_ORDER = ("new", "convert", "restore", "move", "fsm", "fsm_start", "fsm_end", "fsm_dates",
               "name", "contact", "dietary", "other", "leaver")
_TITLES: dict[str, str | dict[str, str]] = {
    "new": {"pupil": "New starters", "staff": "New staff", "preadmission": "New pre-admissions"},
    "convert": "Pre-admissions now on roll",
    "restore": {"pupil": "Returners", "staff": "Returning staff", "preadmission": "Pre-admissions back"},
    "move": {"pupil": "Year or class moves", "preadmission": "Year group changes"},
    # Masked, every free-meal change has this one title, so no heading tells a start from an end.
    "fsm": "Free-meal details changed",
    "fsm_start": "Free school meals start",
    "fsm_end": "Free school meals end",
    "fsm_dates": "Free-meal dates changed",
    "name": "Name changes",
    "contact": {"pupil": "Payer contact changes", "staff": "Contact changes"},
    "dietary": "Dietary needs changed",
    "other": "Other changes",
    "leaver": {"pupil": "Leavers", "staff": "Staff leavers", "preadmission": "No longer pre-admissions"},
}
_BLURBS = {
    "new": "Created in ParentPay.",
    "convert": "Their pre-admission account becomes a full pupil account and keeps the parent's login.",
    "restore": "Archived in ParentPay earlier and current in Bromcom again, so restored.",
    "leaver": "No longer current in Bromcom, so archived in ParentPay: the account keeps its balance "
              "and history, and parents no longer see it.",
    "staff leaver": "No longer current in Bromcom, so archived in ParentPay: the account keeps its "
                    "balance and history and is no longer active.",
}
_PAYER = ("Born", "Payer email", "Payer mobile", "Free meals", "Dietary needs")
_COLUMNS = {"pupil": ("ID", "Name", "Class", *_PAYER), "preadmission": ("ID", "Name", "Year", "Starts", *_PAYER),
            "staff": ("ID", "Name", "Email", "Mobile")}
_LEAVER_COLUMNS = {"pupil": ("ID", "Name", "Class"), "preadmission": ("ID", "Name", "Year"), "staff": ("ID", "Name")}
# fmt: on


@dataclass
class Person:
    """One person in a list event, with each changed field as (label, before, after)."""

    mis_id: str
    name: str
    where: str  # their class (or year), "" when the section heading says it all
    changes: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Event:
    """One kind of school event in a section: a table (starters, leavers) or a list of people."""

    kind: str
    title: str
    blurb: str = ""
    columns: tuple[str, ...] = ()
    rows: list[list[str]] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.people)


@dataclass
class Section:
    """A year group of pupils, or all staff, or all pre-admissions."""

    title: str
    events: list[Event]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.events)


@dataclass
class CheckView:
    name: str
    severity: str
    heading: str  # "Held back: 1 pupil" / "Warning: 3 pupils"
    message: str
    details: list[str]
    records: list[str]  # "1007 Ava Patel (year 1, 1L)", or "1007" when the name is not known
    remediation: str


@dataclass
class Report:
    """The plan as the reviewer reads it. Prose fields mark code with `backticks`, nothing else."""

    school: str
    urn: int
    site_id: Any
    date: str
    summary: str
    baseline_note: str
    # Why a plan is blocked, as data (a plan that does not list its guards one by one), else None.
    blocked_reason: str | None
    totals: list[tuple[str, list[int]]]  # (type title, counts in totals_head order)
    sections: list[Section]
    checks: list[CheckView]
    left_out: list[str]
    footer: list[str]
    show_sensitive: bool
    totals_head: tuple[str, ...] = _OP_HEADS
    # Changed in ParentPay since the last upload: (record, field, ParentPay, uploaded, Bromcom)
    drift: list[list[str]] = field(default_factory=list)
    drift_note: str = ""
    parentpay_note: str = ""  # what the read of ParentPay found, or that the plan is offline
    # The blocked box from the plan's guards: one line per guard that blocks it, then the
    # likely causes and what to do (prose).
    blocked_guards: list[str] = field(default_factory=list)
    blocked_advice: list[str] = field(default_factory=list)
    lifted: list[str] = field(default_factory=list)  # guards a flag lifted, after review (prose)
    outcome: str = ""  # what `run` did with the plan (prose); "" for a plan made by `plan`
    # Who was left out for want of consent (data, not prose): they follow the last left_out line.
    no_consent: list[str] = field(default_factory=list)


DRIFT_COLUMNS = ("Record", "Field", "ParentPay now", "Last uploaded", "Bromcom")


def _drift(plan: Plan, people: Mapping[str, Record], show: bool) -> tuple[list[list[str]], str]:
    """The drift table, and what this plan does with it (drift: restore or report)."""
    rows = []
    for d in plan.drift:
        who = label(d["mis_id"], people.get(d["mis_id"], {}).get("fields", {}))
        name = d["field"]
        if name == "status":
            values = [("deleted" if v is None and i == 0 else _shown(name, v, show)) for i, v in
                      enumerate((d["parentpay"], d["uploaded"], d["bromcom"]))]  # fmt: skip
            if d["bromcom"] is None:
                values[2] = "not on roll"
        else:
            values = [_shown(name, d[k], show) for k in ("parentpay", "uploaded", "bromcom")]
        rows.append([who, name, *values])
    restores = sum(1 for c in plan.data["changes"] if c.get("reason") == "drift")
    if plan.data.get("drift_mode", "restore") == "report":
        note = (
            "Nothing of it is changed: ParentPay's values stay, as the school file says "
            "`drift: report`."
        )
    elif restores:
        note = (
            f"The school file says `drift: restore`: {restores} of the changes above put "
            + ("it" if restores == 1 else "them")
            + " back as Bromcom has "
            + ("it" if restores == 1 else "them")
            + " (their reason in the plan file is `drift`)."
        )
    else:
        note = "Nothing needs putting back: Bromcom no longer has these records, or agrees."
    return rows, note


def _parentpay_note(d: Mapping[str, Any]) -> str:
    if d.get("offline", False):
        return (
            "Planned with `--offline`: ParentPay was not read, so this plan is against bromsync's "
            "memory of the last upload alone and cannot be applied."
        )
    unmanaged = d.get("unmanaged") or {}
    parts = []
    if adopted := len(d.get("adopted", [])):
        parts.append(
            f"{adopted} record{'s' * (adopted != 1)} that ParentPay already held under the "
            "Bromcom ID, for the same person, adopted: bromsync manages "
            + ("it" if adopted == 1 else "them")
            + " from now on"
        )
    if n := sum(unmanaged.values()):
        parts.append(
            f"{n} record{'s' * (n != 1)} in ParentPay that bromsync did not upload and Bromcom "
            "does not have, left untouched"
        )
    return "ParentPay was read before planning" + (": " + "; ".join(parts) if parts else "") + "."


def _shown(name: str, value: Any, show: bool, empty: str = BLANK) -> str:
    if name in SENSITIVE_FIELDS and not show:
        return MASK
    if value is None or value == "":
        return empty
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "none"
    return " ".join(str(value).split())


_LONG = 100  # a name part longer than ParentPay takes (the check text_too_long) is cut here


def _joined(f: Mapping[str, Any], names: tuple[str, ...]) -> str:
    return " ".join(_part(str(f[n])) for n in names if f.get(n))


def _part(text: str) -> str:
    # Only in what people read: a 50,000-character name pasted into Bromcom would bury the
    # report. The record itself keeps it whole, and text_too_long holds it back.
    if len(text) <= _LONG:
        return text
    return f"{text[:40]}... ({len(text):,} characters)"


def _name(f: Mapping[str, Any], legal_too: bool = False) -> str:
    shown = _joined(f, ("forename", "surname"))
    legal = _joined(f, ("legal_forename", "legal_surname"))
    return f"{shown} (legal name {legal})" if legal_too and legal and legal != shown else shown


def _section(rtype: str, year: Any) -> tuple[tuple[int, int, str], str]:
    """(sort key, title): pupils by year group N1, N2, R, 1..14, odd codes; staff; pre-admissions."""
    if rtype != "pupil":
        return (2 if rtype == "staff" else 3, 0, rtype), (
            RECORD_TYPES[rtype].title if rtype in RECORD_TYPES else rtype
        )
    code = "" if year is None else str(year)
    if code in PARENTPAY_YEAR_CODES:
        title = {"N1": "Nursery N1", "N2": "Nursery N2", "R": "Reception"}.get(code, f"Year {code}")
        return (0, PARENTPAY_YEAR_CODES.index(code), code), title
    if not code:
        return (1, 1, ""), "No year group"
    return (1, 0, code), f"Year group \u201c{code}\u201d (not a ParentPay code)"


def _row(rtype: str, mis_id: str, f: Mapping[str, Any], show: bool) -> list[str]:
    """A new starter's (or converted pre-admission's) row, in the _COLUMNS of its type."""
    if rtype == "staff":
        name = _joined(f, ("title", "forename", "surname"))
        return [mis_id, name, *(_shown(n, f.get(n), show, "—") for n in ("email", "mobile"))]
    where = ("reg_group",) if rtype == "pupil" else ("year_code", "admission_date")
    cells = [_shown(n, f.get(n), show, "—") for n in (*where, "dob", "payer_email", "payer_mobile")]
    fsm = "no" if not f.get("fsm") else " ".join(
        ["yes", *([f"from {f['fsm_start']}"] if f.get("fsm_start") else []),
         *([f"until {f['fsm_end']}"] if f.get("fsm_end") else [])]
    )  # fmt: skip
    return [
        mis_id,
        _name(f, legal_too=True),
        *cells,
        fsm if show else MASK,
        _shown("dietary", f.get("dietary"), show),
    ]


def _update_kind(after: Mapping[str, Any], show: bool) -> str:
    for kind, names in _UPDATE_KINDS.items():
        if not any(n in after for n in names):
            continue
        if kind != "fsm" or not show:
            return kind
        if "fsm" not in after:
            return "fsm_dates"
        return "fsm_start" if after["fsm"] else "fsm_end"
    return "other"


def _field_changes(
    kind: str, rtype: str, after: Mapping[str, Any], before: Mapping[str, Any], show: bool
) -> list[tuple[str, str, str]]:
    """(label, before, after) per field: the event's own fields first, then in record order."""
    own = _UPDATE_KINDS.get("fsm" if kind.startswith("fsm") else kind, ())
    order = RECORD_FIELDS.get(rtype, ())
    names = sorted(after, key=lambda n: (n not in own, order.index(n) if n in order else 99, n))
    out = []
    for n in names:
        if n in _FSM and not show:
            # Masked, one line for all three: which of them changed would hint at the status.
            if n == next(m for m in names if m in _FSM):
                out.append(("free-meal details", MASK, MASK))
            continue
        out.append((LABELS.get(n, n), _shown(n, before.get(n), show), _shown(n, after[n], show)))
    return out


def _item(
    change: Mapping[str, Any], fields: Mapping[str, Any], restored: bool, show: bool
) -> tuple[str, list[str] | Person]:
    """The change's event kind, and its table row or its Person."""
    op, rtype, mis_id = change["op"], change["type"], change["mis_id"]
    if op in ("create", "convert"):
        return ("new" if op == "create" else "convert"), _row(rtype, mis_id, fields, show)
    name = _name(fields) or "(name not known)"
    if op == "archive":
        last = {"pupil": ["reg_group"], "preadmission": ["year_code"]}.get(rtype, [])
        return "leaver", [mis_id, name, *(_shown(n, fields.get(n), show, "—") for n in last)]
    after, before = change["fields"], change.get("before") or {}
    kind = "restore" if restored else _update_kind(after, show)
    where = str(fields.get("reg_group") or "") if rtype == "pupil" else ""
    if rtype == "preadmission" and fields.get("year_code"):
        where = f"year {fields['year_code']}"
    return kind, Person(mis_id, name, where, _field_changes(kind, rtype, after, before, show))


def _sections(plan: Plan, people: Mapping[str, Record], show: bool) -> list[Section]:
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for change in plan.data["changes"]:
        by_id.setdefault(change["mis_id"], []).append(change)
    grouped: dict[tuple[int, int, str], tuple[str, dict[tuple[str, str], Event]]] = {}
    for mis_id, changes in by_id.items():
        restored = any(c["op"] == "restore" for c in changes)
        # A restore and the update or convert that follows it are one returner, told once.
        for change in [c for c in changes if c["op"] != "restore"] or changes:
            rtype, whole = change["type"], change["op"] in ("create", "convert")
            # Today's record (or for a leaver the last one ParentPay acknowledged), and what changed.
            known = {} if whole else people.get(mis_id, {}).get("fields", {})
            fields = {**known, **change["fields"]}
            kind, item = _item(change, fields, restored, show)
            key, title = _section(rtype, fields.get("year_code"))
            events = grouped.setdefault(key, (title, {}))[1]
            if (kind, rtype) not in events:
                cols = (
                    _COLUMNS[rtype] if whole else _LEAVER_COLUMNS[rtype] if kind == "leaver" else ()
                )
                events[kind, rtype] = Event(
                    kind,
                    _title(kind, rtype),
                    _BLURBS.get(f"{rtype} {kind}", _BLURBS.get(kind, "")),
                    cols,
                )
            if isinstance(item, Person):
                events[kind, rtype].people.append(item)
            else:
                events[kind, rtype].rows.append(item)
    sections = []
    for key in sorted(grouped):
        title, events = grouped[key]
        ordered = sorted(events.values(), key=lambda e: EVENT_ORDER.index(e.kind))
        for event in ordered:
            event.rows.sort(key=lambda r: natural_key(r[0]))
            event.people.sort(key=lambda p: natural_key(p.mis_id))
        sections.append(Section(title, ordered))
    return sections


def _title(kind: str, rtype: str) -> str:
    title = _TITLES[kind]
    return title if isinstance(title, str) else title.get(rtype, title["pupil"])


def person_name(f: Mapping[str, Any]) -> str:
    """'Mrs Sarah Bennett', 'Zoë Chen': a record's name as the reports give it."""
    return _joined(f, ("title", "forename", "surname"))


def label(mis_id: str, f: Mapping[str, Any]) -> str:
    """'1007 Ava Patel (year 1, 1L)', or just '1007' when nothing is known of the record."""
    where = [f"year {f['year_code']}"] if f.get("year_code") else []
    where += [str(f["reg_group"])] if f.get("reg_group") else []
    return " ".join(p for p in (mis_id, _name(f), f"({', '.join(where)})" if where else "") if p)


def _checks(plan: Plan, people: Mapping[str, Record]) -> list[CheckView]:
    views = []
    # Errors first: they decide what is held back; warnings only inform.
    for c in sorted(plan.data["checks"], key=lambda c: c["severity"] != "error"):
        n = len(c["records"])
        kind = RECORD_TYPES.get(c["type"])
        noun = (kind.many if n != 1 else kind.one) if kind else ("records" if n != 1 else "record")
        views.append(CheckView(
            name=c["name"], severity=c["severity"],
            heading=f"{'Held back' if c['severity'] == 'error' else 'Warning'}: {n} {noun}",
            message=" ".join(c["message"].split()), details=list(c.get("details") or []),
            records=[label(m, people.get(m, {}).get("fields", {})) for m in c["records"]],
            remediation=" ".join(c["remediation"].split()),
        ))  # fmt: skip
    return views


def _prose(
    d: Mapping[str, Any],
    people: Mapping[str, Record],
    show: bool,
    command: str,
    by_run: bool,
    flags: list[str] | None,
) -> tuple[str, list[str], list[str]]:
    """The baseline note, what was left out, and the footer, the same in every layout.

    `command` pushes the plan (`bromsync apply ...`); `flags` are those a blocked plan needs.
    """
    baseline = (
        f"changes since upload `{d['baseline']}`, the last one ParentPay acknowledged"
        if d["baseline"]
        else "first upload: ParentPay has acknowledged nothing from bromsync yet"
    )
    left_out = [
        f"{n} {RECORD_TYPES[t].one if t != 'staff' else t} row{'s' * (n != 1)} left out by the mapping's rule `{rule}`"
        for t, rules in d.get("left_out", {}).items()
        for rule, n in rules.items()
        if n
    ]
    if n := d["excluded"]["no_consent"]:
        left_out.append(
            f"{n} {'person' if n == 1 else 'people'} left out for want of data processing consent"
            + (" (tick it in Bromcom to upload them):" if d.get("no_consent_records") else "")
        )
    if d["blocked"]:
        push = _blocked_footer(flags)
    elif by_run:
        push = (
            "`bromsync run` wrote this plan and pushed it straight away; the line under the "
            "summary says what happened."
        )
    else:
        push = (
            f"To push exactly this plan to ParentPay, run `{command}` from the folder where "
            "`bromsync plan` was run. It is refused if the file was edited or ParentPay has "
            "acknowledged another upload since."
        )
    footer = [
        "This report shows dietary needs and free-meal details: keep it confidential."
        if show
        else f"Dietary needs and free-meal details are shown as {MASK}; make the plan with "
        "`--show-sensitive` to see them.",
        push,
    ]
    return baseline, left_out, footer


def _blocked_footer(flags: list[str] | None) -> str:
    if not flags:
        return "This plan is blocked, so `bromsync apply` refuses it. Fix the cause and make a new plan."
    return (
        f"This plan is blocked: `bromsync apply` refuses it unless given `{' '.join(flags)}`, "
        "after review (see the box at the top)."
    )


def _guards(
    plan: Plan, command: str, beside: str, flags: list[str] | None
) -> tuple[list[str], list[str], list[str]]:
    """The blocked box's lines and advice, and the guards lifted by a flag, as prose.

    `command` is the plan's `bromsync apply` command, as the footer gives it.
    """
    guards = plan.guards
    block = blocking(guards)
    step = None
    if flags is not None:
        step = (
            "If the change is real, and this report shows only what you expect, push exactly this "
            f"plan with `{command} {' '.join(flags)}`{beside}."
        )
    lines = [_capital(g.message.rstrip(".")) + "." for g in block]
    lifted = [
        f"Lifted with `{g.flag}` after review: {g.message.rstrip('.')}."
        for g in guards
        if g.released
    ]
    return lines, advice(block, step) if block else [], lifted


def _capital(text: str) -> str:
    # Guard reasons are phrased to follow "blocked: "; standing alone they start a sentence.
    return text[:1].upper() + text[1:]


def _date(iso: str) -> str:
    try:
        day = dt.date.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def headline(plan: Plan) -> str:
    """'12 to create; 2 held back by checks': what the plan does, and what it leaves out."""
    line = _capital(summary_line(plan.summary))
    if held := len(plan.held_back()):
        line += f"; {held} held back by checks (see Checks)"
    return line


def build_report(
    plan: Plan,
    *,
    people: Mapping[str, Record],
    show_sensitive: bool = False,
    apply_command: str | None = None,
    outcome: str | None = None,
) -> Report:
    """What the reviewer is shown, formatted and masked, ready for any layout.

    `apply_command` is the footer's way to push the plan, as typed where `plan` ran; `outcome`
    (from `run`) says what became of the plan instead.
    """
    d = plan.data
    summary = d["summary"]
    totals = [
        (RECORD_TYPES[t].title, [c[op] for op in (*OPS, "unchanged")])
        for t, c in summary.items()
        if any(c.values())
    ]
    # Without the command as typed, the report names the plan file that lies beside it.
    command = apply_command or f"bromsync apply {d['school']['urn']}.plan.json"
    beside = "" if apply_command else " (the plan file beside this report)"
    flags = plan.release_flags()
    baseline, left_out, footer = _prose(
        d, people, show_sensitive, command, outcome is not None, flags
    )
    guard_lines, guard_advice, lifted = _guards(plan, command, beside, flags)
    blocked = None
    if d["blocked"] and not guard_lines:
        blocked = _capital(d["blocked_reason"] or "no reason was recorded")
    drift, drift_note = _drift(plan, people, show_sensitive)
    return Report(
        d["school"]["name"], d["school"]["urn"], d.get("site_id"), _date(d.get("today", "")),
        headline(plan), baseline, blocked, totals,
        _sections(plan, people, show_sensitive), _checks(plan, people), left_out, footer, show_sensitive,
        drift=drift, drift_note=drift_note if drift else "", parentpay_note=_parentpay_note(d),
        blocked_guards=guard_lines, blocked_advice=guard_advice, lifted=lifted,
        outcome=outcome or "",
        no_consent=[label(r["mis_id"], people.get(r["mis_id"], {}).get("fields", {}))
                    for r in d.get("no_consent_records", [])],
    )  # fmt: skip
