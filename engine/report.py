"""Report: the plan told in Markdown for the person who reviews it before anything is pushed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.diff import OPS
from engine.plan import Plan, summary_line
from engine.records import RECORD_FIELDS, SENSITIVE_FIELDS, Record

MASK = "***"
_TYPE_TITLES = {"pupil": "Pupils", "staff": "Staff", "preadmission": "Pre-admissions"}
_OP_TITLES = {
    "create": "New",
    "update": "Changed",
    "archive": "Archived (no longer current in Bromcom)",
    "restore": "Restored (current again in Bromcom)",
    "convert": "Converted from pre-admission to pupil",
}


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "none"
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if text else '""'


def _shown(name: str, value: Any, show_sensitive: bool) -> str:
    if name in SENSITIVE_FIELDS and not show_sensitive:
        return MASK
    return _cell(value)


def _label(mis_id: str, record: Record | None) -> str:
    if record is None:
        return f"**{mis_id}**"
    f = record.get("fields", {})
    name = " ".join(str(p) for p in (f.get("forename"), f.get("surname")) if p)
    extra = []
    if f.get("year_code") is not None:
        extra.append(f"year {f['year_code']}")
    if f.get("reg_group"):
        extra.append(str(f["reg_group"]))
    tail = f" ({', '.join(extra)})" if extra else ""
    return f"**{mis_id}** {name}{tail}".rstrip()


def render_markdown(
    plan: Plan,
    *,
    people: Mapping[str, Record],
    show_sensitive: bool = False,
) -> str:
    """The plan as Markdown. `people` labels records by mis_id (today's records and the baseline)."""
    d = plan.data
    out: list[str] = []
    out.append(f"# Sync plan: {d['school']['name']} (URN {d['school']['urn']})")
    out.append("")
    out.append(f"**{summary_line(d['summary'])}**")
    out.append("")
    baseline = f"`{d['baseline']}`" if d["baseline"] else "none (first upload)"
    out.append(f"Date {d['today']} · ParentPay site {d['site_id']} · baseline {baseline}")
    out.append("")
    if d["blocked"]:
        out += ["## ⛔ Blocked: nothing will be pushed", "", d["blocked_reason"], ""]
    out += _summary_table(d["summary"])
    out += _exclusions(d)
    out += _checks(d["checks"])
    out += _changes(d["changes"], people, show_sensitive)
    if not show_sensitive:
        out.append(
            f"_Dietary and free-meal fields are shown as `{MASK}`; "
            "use `--show-sensitive` to see them._"
        )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _summary_table(summary: Mapping[str, Mapping[str, int]]) -> list[str]:
    head = ["| | " + " | ".join(OPS) + " | unchanged |", "|---|" + "---:|" * (len(OPS) + 1)]
    rows = [
        f"| {_TYPE_TITLES[kind]} | " + " | ".join(str(counts[op]) for op in (*OPS, "unchanged")) + " |"
        for kind, counts in summary.items()
        if any(counts.values())
    ]
    return (head + rows + [""]) if rows else []


def _exclusions(d: Mapping[str, Any]) -> list[str]:
    lines = []
    if d["excluded"]["no_consent"]:
        lines.append(f"- {d['excluded']['no_consent']} left out for want of data processing consent")
    for kind, rules in d.get("left_out", {}).items():
        for rule, count in rules.items():
            if count:
                lines.append(f"- {count} {_TYPE_TITLES[kind].lower()} rows left out by the rule `{rule}`")
    return (["## Left out", "", *lines, ""]) if lines else []


def _checks(checks: list[Mapping[str, Any]]) -> list[str]:
    if not checks:
        return []
    out = ["## Checks", ""]
    for check in checks:
        icon = "❌" if check["severity"] == "error" else "⚠️"
        effect = "held back" if check["severity"] == "error" else "reported"
        n = len(check["records"])
        out.append(
            f"### {icon} `{check['name']}`: {n} {_TYPE_TITLES[check['type']].lower()} {effect}"
        )
        out.append("")
        out.append(check["message"])
        if check.get("details"):
            out.append("")
            out.append("Values found: " + ", ".join(f"`{v}`" for v in check["details"]))
        out.append("")
        out.append(f"**To fix:** {check['remediation']}")
        out.append("")
        out.append("Records: " + ", ".join(check["records"]))
        out.append("")
    return out


def _changes(changes: list[Mapping[str, Any]], people: Mapping[str, Record], show: bool) -> list[str]:
    if not changes:
        return ["## Changes", "", "Nothing to change: ParentPay already matches Bromcom.", ""]
    out = ["## Changes", ""]
    for kind, title in _TYPE_TITLES.items():
        of_type = [c for c in changes if c["type"] == kind]
        if not of_type:
            continue
        out += [f"### {title}", ""]
        for op in OPS:
            group = [c for c in of_type if c["op"] == op]
            if not group:
                continue
            out += [f"#### {_OP_TITLES[op]}: {len(group)}", ""]
            for change in group:
                out += _change(change, people.get(change["mis_id"]), kind, show)
    return out


def _change(change: Mapping[str, Any], record: Record | None, kind: str, show: bool) -> list[str]:
    label = _label(change["mis_id"], record)
    op = change["op"]
    if op in ("archive", "restore"):
        return [f"- {label}", ""]
    if op == "update":
        rows = [
            f"| {name} | {_shown(name, change['before'].get(name), show)} | {_shown(name, value, show)} |"
            for name, value in change["fields"].items()
        ]
        return [f"- {label}", "", "  | field | before | after |", "  |---|---|---|", *("  " + r for r in rows), ""]
    fields = change["fields"]
    rows = [f"| {name} | {_shown(name, fields.get(name), show)} |" for name in RECORD_FIELDS[kind] if name in fields]
    return [f"- {label}", "", "  | field | value |", "  |---|---|", *("  " + r for r in rows), ""]
