"""The plan report as one self-contained HTML page: inline CSS, no scripts, fonts or links out.

Same content as the Markdown (both lay out engine.report.content.build_report), for a reviewer
who opens it in a browser or prints it. Every value from the data is escaped: names carry
apostrophes, ampersands and, now and then, angle brackets.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

from engine.report.content import BLANK, DRIFT_COLUMNS, MASK, CheckView, Event, Person, Report

_CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #dde3ea; --soft: #f4f6f9; --accent: #2b5f8f;
  --red: #b42318; --red-bg: #fef3f2; --amber: #a15c07; --amber-bg: #fffaeb; --green: #067647; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 36px 40px; }
h1 { font-size: 28px; margin: 2px 0 6px; line-height: 1.2; }
h2 { font-size: 21px; margin: 0 0 10px; }
h3 { font-size: 16px; margin: 18px 0 4px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em;
  background: var(--soft); border-radius: 4px; padding: 0 4px; }
.eyebrow { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .04em; text-transform: uppercase; }
.summary { font-size: 20px; font-weight: 650; margin: 0 0 2px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.outcome { border-left: 5px solid var(--accent); background: var(--soft); padding: 8px 14px;
  margin: 0 0 16px; font-weight: 600; }
.blocked { border: 2px solid var(--red); background: var(--red-bg); border-radius: 8px;
  padding: 14px 18px; margin: 16px 0 20px; }
.blocked h2 { color: var(--red); margin-bottom: 6px; }
.blocked p { margin: 6px 0 0; }
.blocked ul { margin: 0; padding-left: 20px; }
.lifted { margin: 0 0 12px; }
table { border-collapse: collapse; min-width: 50%; margin: 6px 0 12px; font-size: 14px; }
th, td { text-align: left; padding: 5px 10px 5px 7px; border-bottom: 1px solid var(--line); vertical-align: top;
  white-space: nowrap; }
td.wrap { white-space: normal; min-width: 9em; }
td.email { white-space: normal; overflow-wrap: break-word; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.zero { color: #b6bfca; }
nav.toc { margin: 4px 0 8px; font-size: 14px; }
nav.toc ul { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 6px; }
nav.toc a { display: inline-block; border: 1px solid var(--line); border-radius: 999px; padding: 2px 10px;
  color: var(--accent); text-decoration: none; }
nav.toc a:hover { background: var(--soft); }
.count { display: inline-block; font-size: 13px; font-weight: 600; color: var(--muted);
  background: var(--soft); border-radius: 999px; padding: 0 8px; margin-left: 6px; vertical-align: 2px; }
section.group { margin-top: 26px; }
section.group > h2 { border-bottom: 2px solid var(--accent); padding-bottom: 4px; }
.blurb { margin: 0 0 4px; color: var(--muted); font-size: 14px; }
.id { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; color: var(--muted);
  margin-right: 4px; }
.where { color: var(--muted); margin-left: 4px; }
ul.people { list-style: none; padding: 0; margin: 4px 0 10px; }
ul.people > li { padding: 6px 0; border-bottom: 1px solid var(--line); }
ul.changes { list-style: none; padding: 0; margin: 2px 0 0 3.4em; font-size: 14px; }
.label { color: var(--muted); display: inline-block; min-width: 9em; }
del { color: #8b95a1; } ins { color: var(--green); text-decoration: none; font-weight: 600; }
.arrow { color: var(--muted); padding: 0 4px; }
.nw { white-space: nowrap; }
.blank { color: #8b95a1; font-style: italic; }
.masked { font-family: ui-monospace, "DejaVu Sans Mono", monospace; background: #e6e9ee; color: #4b5563;
  border-radius: 4px; padding: 0 5px; }
.check { border-left: 5px solid var(--amber); background: var(--amber-bg); border-radius: 0 8px 8px 0;
  padding: 10px 18px; margin: 12px 0; }
.check.error { border-left-color: var(--red); background: var(--red-bg); }
.check h3 { margin: 0 0 6px; }
.check p { margin: 0 0 8px; }
.check dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
.check dt { font-weight: 600; } .check dd { margin: 0; }
ul.plain { margin: 4px 0; padding-left: 20px; }
footer { margin-top: 30px; border-top: 1px solid var(--line); padding-top: 12px; color: var(--muted);
  font-size: 14px; }
footer .confidential { color: var(--red); font-weight: 600; }
@media print {
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  h2, h3 { break-after: avoid; }
  tr, ul.people > li, .check { break-inside: avoid; }
  thead { display: table-header-group; }
  table { font-size: 11px; min-width: 0; }
  th, td { white-space: normal; padding: 3px 6px 3px 4px; }
  td.email { overflow-wrap: anywhere; }
  .blocked, .check, .masked, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  @page { margin: 14mm; }
}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


_DAY = re.compile(r"\d{4}-\d\d-\d\d")


@lru_cache(maxsize=16384)  # a report's cells repeat: year groups, blanks, dates, masks
def _value(text: str) -> str:
    if text == BLANK:
        return f'<span class="blank">{BLANK}</span>'
    if text == MASK:
        return f'<span class="masked" title="hidden: make the plan with --show-sensitive">{MASK}</span>'
    # A date breaks at its hyphens otherwise ("2025-" on one line, "04-01" on the next).
    return _DAY.sub(r'<span class="nw">\g<0></span>', _e(text))


# Free text may wrap, emails anywhere if they must; IDs, dates and phone numbers stay on one line.
_WRAP = {
    "Name": "wrap",
    "Free meals": "wrap",
    "Dietary needs": "wrap",
    "Payer email": "email",
    "Email": "email",
}


def _table(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    cls = [f'<td class="{_WRAP[c]}">' if c in _WRAP else "<td>" for c in columns]
    body = "".join(
        "<tr>" + "".join(f"{cls[i]}{_value(c)}</td>" for i, c in enumerate(row)) + "</tr>\n"
        for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _side(text: str, tag: str) -> str:
    return _value(text) if text in (MASK, BLANK) else f"<{tag}>{_e(text)}</{tag}>"


def _person(p: Person) -> str:
    who = f'<span class="id">{_e(p.mis_id)}</span> <strong>{_e(p.name)}</strong>'
    if p.where:
        who += f' <span class="where">{_e(p.where)}</span>'
    if not p.changes:
        return f"<li>{who}</li>\n"
    items = []
    for label, before, after in p.changes:
        pair = f'{_side(before, "del")}<span class="arrow">→</span>{_side(after, "ins")}'
        items.append(f'<li><span class="label">{_e(label)}</span> {pair}</li>')
    return f'<li>{who}\n<ul class="changes">{"".join(items)}</ul></li>\n'


def _event(event: Event) -> str:
    out = f'<h3>{_e(event.title)}<span class="count">{event.size}</span></h3>\n'
    if event.blurb:
        out += f'<p class="blurb">{_e(event.blurb)}</p>\n'
    if event.rows:
        return out + _table(event.columns, event.rows)
    return out + '<ul class="people">\n' + "".join(_person(p) for p in event.people) + "</ul>\n"


def _prose(text: str) -> str:
    """Report prose, where `backticks` mark code (a command, a rule, an upload id)."""
    html = re.sub(r"`([^`]*)`", r"<code>\1</code>", _e(text))
    return html.replace(MASK, _value(MASK))


def _header(r: Report) -> str:
    out = (
        f'<header>\n<p class="eyebrow">bromsync plan · URN {_e(r.urn)} · ParentPay site {_e(r.site_id)}</p>\n'
        f"<h1>{_e(r.school)}</h1>\n"
        f'<p class="summary">{_e(r.summary)}</p>\n'
        f'<p class="meta">{_e(r.date)} · {_prose(r.baseline_note)}</p>\n'
        + (f'<p class="outcome">{_prose(r.outcome)}</p>\n' if r.outcome else "")
        + (f'<p class="meta">{_prose(r.parentpay_note)}</p>\n' if r.parentpay_note else "")
        + "</header>\n"
    )
    out += "".join(f'<p class="lifted">{_prose(line)}</p>\n' for line in r.lifted)
    if r.blocked_reason or r.blocked_guards:
        out += '<div class="blocked" role="alert">\n<h2>Blocked: nothing will be pushed</h2>\n'
        if r.blocked_reason:
            out += f"<p>{_e(r.blocked_reason)}</p>\n"
        if r.blocked_guards:
            items = "".join(f"<li>{_prose(line)}</li>\n" for line in r.blocked_guards)
            out += f"<ul>\n{items}</ul>\n"
        out += "".join(f"<p>{_prose(paragraph)}</p>\n" for paragraph in r.blocked_advice)
        out += "</div>\n"
    if r.totals:
        head = "<th></th>" + "".join(f'<th class="num">{_e(h)}</th>' for h in r.totals_head)
        rows = "".join(
            f"<tr><th>{_e(title)}</th>"
            + "".join(f'<td class="num{" zero" if not n else ""}">{n}</td>' for n in counts)
            + "</tr>\n"
            for title, counts in r.totals
        )
        out += f'<table class="totals">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n'
    return out


def _nav(r: Report) -> str:
    links = [f'<li><a href="#checks">Checks · {len(r.checks)}</a></li>'] if r.checks else []
    links += [
        f'<li><a href="#s{i}">{_e(s.title)} · {s.size}</a></li>' for i, s in enumerate(r.sections)
    ]
    if r.drift:
        links.append(f'<li><a href="#drift">Changed in ParentPay · {len(r.drift)}</a></li>')
    if r.left_out:
        links.append('<li><a href="#left-out">Left out</a></li>')
    return (
        f'<nav class="toc" aria-label="Contents">\n<ul>{"".join(links)}</ul>\n</nav>\n'
        if len(links) > 1
        else ""
    )


def _check(c: CheckView) -> str:
    rows = []
    if c.details:
        rows.append(
            "<dt>Values found</dt><dd>"
            + ", ".join(f"<code>{_e(v)}</code>" for v in c.details)
            + "</dd>"
        )
    rows.append("<dt>Records</dt><dd>" + ", ".join(_e(x) for x in c.records) + "</dd>")
    rows.append(f"<dt>To fix</dt><dd>{_e(c.remediation)}</dd>")
    return (
        f'<div class="check {_e(c.severity)}">\n<h3>{_e(c.heading)} <code>{_e(c.name)}</code></h3>\n'
        f"<p>{_e(c.message)}</p>\n<dl>{''.join(rows)}</dl>\n</div>\n"
    )


def _footer(r: Report) -> str:
    lines = [f"<p>{_prose(line)}</p>" for line in r.footer]
    if r.show_sensitive:
        lines[0] = lines[0].replace("<p>", '<p class="confidential">', 1)
    return "<footer>\n" + "\n".join(lines) + "\n</footer>\n"


def render_html(r: Report) -> str:
    """The plan's report as a self-contained HTML page."""
    body = [_header(r), _nav(r)]
    # What is held back comes before the tables of changes, which may run to 2,000 rows.
    if r.checks:
        body.append('<section class="group" id="checks">\n<h2>Checks</h2>\n')
        body += [_check(c) for c in r.checks]
        body.append("</section>\n")
    if not r.sections:
        body.append("<p>Nothing to change: ParentPay already matches Bromcom.</p>\n")
    for i, s in enumerate(r.sections):
        noun = "person" if s.size == 1 else "people"
        body.append(
            f'<section class="group" id="s{i}">\n<h2>{_e(s.title)}<span class="count">{s.size} {noun}</span></h2>\n'
        )
        body += [_event(e) for e in s.events]
        body.append("</section>\n")
    if r.drift:
        body.append(
            '<section class="group" id="drift">\n<h2>Changed in ParentPay since the last upload'
            f'<span class="count">{len(r.drift)}</span></h2>\n<p>{_prose(r.drift_note)}</p>\n'
            + _table(DRIFT_COLUMNS, r.drift)
            + "</section>\n"
        )
    if r.left_out:
        shown = [_prose(line) for line in r.left_out]
        if r.no_consent:
            shown[-1] += " " + ", ".join(_e(x) for x in r.no_consent)
        items = "".join(f"<li>{line}</li>" for line in shown)
        body.append(
            f'<section class="group" id="left-out">\n<h2>Left out</h2>\n<ul class="plain">{items}</ul>\n</section>\n'
        )
    body.append(_footer(r))
    title = f"{r.school}: sync plan, {r.date}"
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "".join(body)
        + "</main>\n</body>\n</html>\n"
    )
