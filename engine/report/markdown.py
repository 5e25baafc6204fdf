"""The plan report in Markdown, beside the plan file: `build_report`'s content laid out
(engine/report/content.py), with every value from the data escaped.
"""

from __future__ import annotations

from engine.report.content import DRIFT_COLUMNS, CheckView, Person, Report

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`|<>[]"})


def md(text: str) -> str:
    """Data as Markdown text: no table pipes, links, code or HTML tags smuggled in by a name."""
    return " ".join(str(text).split()).translate(_MD_SPECIAL)


def _code(text: str) -> str:
    """`text` as a code span, whatever backticks it holds (a value found by a check may)."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{'`' * (longest + 1)}{pad}{text}{pad}{'`' * (longest + 1)}"


def _md_table(columns: tuple[str, ...], rows: list[list[str]], right_from: int = 99) -> list[str]:
    rule = "|" + "".join("---:|" if i >= right_from else "---|" for i in range(len(columns)))
    body = ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return ["| " + " | ".join(columns) + " |", rule, *body, ""]


def _md_person(p: Person) -> str:
    who = f"**{md(p.mis_id)}** {md(p.name)}" + (f" ({md(p.where)})" if p.where else "")
    changes = " · ".join(f"{label} {md(b)} → {md(a)}" for label, b, a in p.changes)
    return f"- {who}: {changes}" if changes else f"- {who}"


def _md_check(c: CheckView) -> list[str]:
    icon = "❌" if c.severity == "error" else "⚠️"
    out = [f"### {icon} {c.heading} ({_code(c.name)})", "", c.message, ""]
    if c.details:
        out.append("- Values found: " + ", ".join(_code(v) for v in c.details))
    return [
        *out,
        "- Records: " + ", ".join(md(x) for x in c.records),
        f"- **To fix:** {c.remediation}",
        "",
    ]


def render_markdown(r: Report) -> str:
    """The plan's report as Markdown."""
    out = [f"# {md(r.school)}: sync plan", "", f"**{r.summary}**", ""]
    out += [f"{r.date} · URN {r.urn} · ParentPay site {r.site_id} · {r.baseline_note}", ""]
    out += [f"> **{r.outcome}**", ""] if r.outcome else []
    out += [r.parentpay_note, ""] if r.parentpay_note else []
    out += [*(f"⚠️ {line}" for line in r.lifted), ""] if r.lifted else []
    if r.blocked_reason or r.blocked_guards:
        out += ["> ## ⛔ Blocked: nothing will be pushed", ">"]
        if r.blocked_reason:
            out += [f"> {md(r.blocked_reason)}"]
        out += [f"> - {line}" for line in r.blocked_guards]
        for paragraph in r.blocked_advice:
            out += [">", f"> {paragraph}"]
        out += [""]
    if r.totals:
        out += _md_table(
            ("", *r.totals_head), [[t, *map(str, n)] for t, n in r.totals], right_from=1
        )
    # What is held back comes before the tables of changes, which may run to 2,000 rows.
    out += ["## Checks", ""] if r.checks else []
    for check in r.checks:
        out += _md_check(check)
    if not r.sections:
        out += ["Nothing to change: ParentPay already matches Bromcom.", ""]
    for section in r.sections:
        out += [
            f"## {md(section.title)}: {section.size} {'person' if section.size == 1 else 'people'}",
            "",
        ]
        for event in section.events:
            out += [f"### {event.title} ({event.size})", ""] + (
                [f"_{event.blurb}_", ""] if event.blurb else []
            )
            out += (
                _md_table(event.columns, event.rows)
                if event.rows
                else [*map(_md_person, event.people), ""]
            )
    if r.drift:
        out += ["## Changed in ParentPay since the last upload", "", r.drift_note, ""]
        out += _md_table(DRIFT_COLUMNS, r.drift)
    lines = [f"- {line}" for line in r.left_out]
    if r.no_consent:
        lines[-1] += " " + ", ".join(md(x) for x in r.no_consent)
    out += ["## Left out", "", *lines, ""] if r.left_out else []
    footer = [f"{line}\n" for line in r.footer]
    if r.show_sensitive:
        footer[0] = f"**{footer[0].strip()}**\n"
    return "\n".join([*out, "---", "", *footer])
