"""The results message `notify` sends: subject, a text part and an HTML part (docs/results.md,
"The results message").

The text part is the school's results Markdown (engine/report/results.py) and the HTML part
lays out the same Outcome, so they say the same. Both are always masked: a message leaves
the machine, so no dietary or free-meal value is in it, whatever --show-sensitive says.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape

from engine.records import RECORD_TYPES
from engine.report.results import (
    STATUSES,
    Outcome,
    Problem,
    counts,
    headline,
    lead,
    masked,
    render_results_markdown,
)

_COLOURS = {"ok": "#067647", "incomplete": "#a15c07", "blocked": "#b42318", "failed": "#b42318",
            "error": "#b42318"}  # fmt: skip
_BODY = (
    "font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; "
    "color: #1f2933; max-width: 860px; margin: 0 auto; padding: 16px;"
)
_BOX = "border-left: 5px solid {c}; background: #f4f6f9; padding: 8px 14px; margin: 12px 0;"
_CELL = "text-align: left; padding: 4px 10px; border-bottom: 1px solid #dde3ea;"


def subject(o: Outcome) -> str:
    """'Oakfield Primary School (URN 100001): needs attention: 12 applied, 1 rejected, 1 held back'."""
    c = counts(o)
    parts = [f"{c['applied']} applied"] if o.operations else []
    parts += [f"{c['rejected']} rejected"] if c["rejected"] else []
    parts += [f"{c['held_back']} held back"] if c["held_back"] else []
    if o.status == "blocked":
        parts = [f"{c['blocked']} changes not pushed"]
    school = f"{o.school} (URN {o.urn})" if o.urn else o.school
    return f"{school}: {STATUSES[o.status]}" + (f": {', '.join(parts)}" if parts else "")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _rejected(problems: Sequence[Problem]) -> str:
    if not problems:
        return ""
    items = "".join(
        f"<li><strong>{_e(p.who)}</strong> ({_e(p.op)} {_e(RECORD_TYPES[p.type].one)}): "
        f"<code>{_e(p.reason)}</code>: {_e(masked(p.message))}<br><strong>To fix:</strong> "
        f"{_e(p.fix)}</li>"
        for p in problems
    )
    return f"<h2>Rejected by ParentPay: {len(problems)}</h2>\n<ul>{items}</ul>\n"


def _held(o: Outcome) -> str:
    if not o.held:
        return ""
    groups: dict[tuple[str, str, str], list[Problem]] = {}
    for p in o.held:
        groups.setdefault((p.reason, p.message, p.fix), []).append(p)
    out = f"<h2>Held back by checks: {o.held_count} record{'s' * (o.held_count != 1)}</h2>\n"
    out += (
        "<p><em>Neither created, updated nor archived until fixed; the rest went ahead.</em></p>\n"
    )
    for (check, message, fix), problems in groups.items():
        found = ""
        if problems[0].details:
            values = ", ".join(f"<code>{_e(masked(d))}</code>" for d in problems[0].details)
            found = f"<p>Values found: {values}</p>"
        people = "".join(f"<li>{_e(p.who)}</li>" for p in problems)
        out += (
            f'<div style="{_BOX.format(c="#b42318")}"><h3 style="margin: 0 0 6px;"><code>'
            f"{_e(check)}</code>: {len(problems)}</h3><p>{_e(masked(message))}</p>{found}"
            f"<ul>{people}</ul><p><strong>To fix:</strong> {_e(fix)}</p></div>\n"
        )
    return out


def render_results_html(o: Outcome) -> str:
    """The results as one self-contained HTML page (inline styles: mail programs drop <style>)."""
    colour = _COLOURS[o.status]
    out = [f'<h1 style="margin: 0 0 4px; font-size: 24px;">{_e(o.school)}</h1>']
    out.append(f'<p style="font-size: 18px; font-weight: 650; color: {colour}; margin: 0;">'
               f"{_e(STATUSES[o.status].capitalize())}: {_e(lead(o))}</p>")  # fmt: skip
    meta = [f"bromsync {o.command}"] + ([f"URN {o.urn}"] if o.urn else [])
    meta += [f"ParentPay site {o.site_id}"] if o.site_id else []
    meta += [f"today {o.today}"] if o.today else []
    out.append(f'<p style="color: #5f6b7a;">{_e(" · ".join(meta))}</p>')
    if o.failure is not None:
        out.append(f'<div style="{_BOX.format(c=colour)}"><h2 style="margin: 0;">Failed: nothing '
                   f"more could be done</h2><p>{_e(o.failure['message'])}</p><p><strong>To fix:"
                   f"</strong> {_e(o.fix or '')}</p></div>")  # fmt: skip
    if o.blocked_reason is not None:
        out.append(f'<div style="{_BOX.format(c=colour)}"><h2 style="margin: 0;">Blocked: nothing '
                   f"was pushed</h2><p>{_e(o.blocked_reason[:1].upper() + o.blocked_reason[1:])}</p><p><strong>To fix:</strong> "
                   f"{_e(o.fix or '')}</p></div>")  # fmt: skip
    c = counts(o)
    cells = "".join(
        f'<tr><th style="{_CELL}">{_e(name)}</th><td style="{_CELL}">{c[key]}</td></tr>'
        for name, key in (("Applied", "applied"), ("Rejected by ParentPay", "rejected"),
                          ("Held back by checks", "held_back"), ("Not pushed (blocked)", "blocked"))
    )  # fmt: skip
    out.append(f'<table style="border-collapse: collapse;">{cells}</table>')
    out.append(_rejected(o.rejected))
    out.append(_held(o))
    if o.files:
        items = "".join(f"<li><code>{_e(path)}</code></li>" for path in o.files.values())
        out.append(f"<h2>Files</h2><ul>{items}</ul>")
    out.append(
        '<p style="color: #5f6b7a; border-top: 1px solid #dde3ea; padding-top: 8px;">Dietary needs '
        "and free-meal values are never shown in this message. Every operation ParentPay answered "
        "is in the results JSON.</p>"
    )
    title = _e(headline(o))
    return (
        f'<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n<title>{title}'
        f'</title>\n</head>\n<body style="{_BODY}">\n'
        + "\n".join(x for x in out if x)
        + "\n</body>\n</html>\n"
    )


def results_message(o: Outcome, *, sender: str, to: Sequence[str]) -> EmailMessage:
    """The results message: masked Markdown as the text part, the same as HTML."""
    message = EmailMessage()
    message["Subject"] = subject(o)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # The sender's domain, not this machine's name: looking that up can hang on a bare host.
    message["Message-ID"] = make_msgid("bromsync", domain=sender.rpartition("@")[2])
    message.set_content(render_results_markdown(o, show_sensitive=False))
    message.add_alternative(render_results_html(o), subtype="html")
    return message
