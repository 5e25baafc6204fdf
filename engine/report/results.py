"""A school's results: what `run` or `apply` did, record by record, and what to fix (docs/results.md).

`build_outcome` turns what happened to one school (its plan, ParentPay's answer to each
operation, or the error that stopped it) into an `Outcome`, with every held-back or rejected
record named and given its fix. It is told four ways, which therefore cannot disagree: the
terminal lines (engine/report/terminal.py), `<urn>.results.json` for CI (`results_json`),
`<urn>.results.md` (`render_results_markdown`), which is also the text of the results message
`notify` sends, and that message's HTML part (engine/report/message.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import (
    BlockedPlanError,
    BromcomCredentialsError,
    BromcomPermissionError,
    BromcomSchoolIdError,
    BromcomUnreachable,
    BromsyncError,
    ConfigError,
    ExitCode,
    MissingSecretError,
    ParentPayAuthError,
    ParentPaySiteNotFound,
    PlanError,
    SourceError,
    TargetError,
)
from engine.plan.plan import Plan
from engine.records import RECORD_FIELDS, RECORD_TYPES, SENSITIVE_FIELDS, OpResult, Record
from engine.report.content import LABELS, MASK, label, person_name
from engine.report.markdown import md

FORMAT_VERSION = 1

# What each status means; `tally` counts "need attention" and "failed" from these.
STATUSES = {
    "ok": "synced",
    "incomplete": "needs attention",
    "blocked": "blocked, nothing pushed",
    "failed": "failed",
    "error": "not run",
}
PROBLEM_STATUSES = frozenset(STATUSES) - {"ok"}

_SENSITIVE = re.compile(r"\b(" + "|".join(sorted(SENSITIVE_FIELDS, key=len, reverse=True)) + r")\b")
_PARENTPAY_SUPPORT = "ParentPay support (support@parentpay.com)"


@dataclass(frozen=True)
class Problem:
    """One record that did not go: held back by a check, or rejected by ParentPay."""

    kind: str  # "held" or "rejected"
    type: str
    mis_id: str
    who: str  # "1007 Zoë Chen (year 1, 1L)", or the bare mis_id when nothing else is known
    name: str  # "Zoë Chen", "" when not known
    reason: str  # the check's name, or ParentPay's rejection code
    message: str  # the check's message, or ParentPay's own
    fix: str
    op: str | None = None  # the refused operation (rejected only)
    details: tuple[str, ...] = ()  # the values the check found (held only, per check)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "mis_id": self.mis_id, "name": self.name}
        if self.kind == "held":
            out |= {"check": self.reason, "message": self.message, "fix": self.fix}
        else:
            out |= {"op": self.op, "code": self.reason, "message": self.message, "fix": self.fix}
        return out


@dataclass
class Outcome:
    """What happened to one school in one command, ready to be written or sent."""

    command: str  # run, apply or plan
    school: str
    urn: int | None
    exit_code: int
    status: str  # a key of STATUSES
    message: str  # the one line the terminal prints after the school's name
    school_file: str | None = None
    site_id: int | None = None
    started_at: str | None = None  # ISO 8601, UTC
    seconds: float = 0.0
    today: str | None = None
    plan_digest: str | None = None
    summary: dict[str, dict[str, int]] | None = None  # the plan's, per type and operation
    operations: list[dict[str, Any]] = field(default_factory=list)
    held: list[Problem] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    held_count: int = 0  # records held back (a record two checks flag counts once)
    blocked_count: int = 0  # changes a blocked plan did not push
    blocked_reason: str | None = None
    failure: dict[str, str] | None = None  # {"error", "message", "fix"}
    fix: str | None = None  # what to do about the block or the failure
    files: dict[str, str] = field(default_factory=dict)
    notification: dict[str, Any] | None = None  # {"to", "sent", "error"} once tried

    @property
    def applied(self) -> int:
        return sum(1 for o in self.operations if o["status"] == "applied")

    @property
    def problem(self) -> bool:
        """Something failed, was blocked, held back or rejected (notify.when: problems)."""
        return self.status in PROBLEM_STATUSES or bool(self.held or self.rejected)

    def label(self) -> str:
        return f"{self.school} ({self.urn})" if self.urn else self.school


def masked(text: str, show_sensitive: bool = False) -> str:
    """`text`, or, when it names a dietary or free-meal field, that field with its value masked.

    ParentPay's messages may quote the value they refused; a results message leaves the
    machine, so such a value is never in it.
    """
    if show_sensitive:
        return text
    names = sorted(set(_SENSITIVE.findall(text)))
    if not names:
        return text
    return (
        f"a value of {', '.join(names)} (shown as {MASK}: dietary and free-meal values are masked)"
    )


def _fields(people: Mapping[str, Record], mis_id: str, plan: Plan | None) -> dict[str, Any]:
    known = dict(people.get(mis_id, {}).get("fields", {}))
    if plan is not None:
        for change in plan.data["changes"]:
            if change["mis_id"] == mis_id:
                known |= change.get("fields", {})
    return known


def _field_named(message: str, kind: str) -> str | None:
    """The first ParentPay field the message names (ParentPay's `invalid` names the field)."""
    names = RECORD_FIELDS.get(kind, ())
    found = [(m.start(), n) for n in names if (m := re.search(rf"\b{re.escape(n)}\b", message))]
    return min(found)[1] if found else None


def _now(record: Record | None) -> str:
    if record is None:
        return "ParentPay holds no record under this ID now"
    kind = RECORD_TYPES.get(str(record.get("type")))
    noun = kind.one if kind else str(record.get("type"))
    return f"ParentPay holds it now as an {record.get('status', 'unknown')} {noun}"


def rejection_fix(
    code: str | None,
    message: str,
    *,
    kind: str,
    op: str,
    name: str,
    school_file: str | None,
    now: Mapping[str, Record] | None = None,
    mis_id: str = "",
) -> str:
    """What to do about one operation ParentPay rejected, by its code (docs/results.md)."""
    match = (
        f"`bromsync match {school_file}`"
        if school_file
        else "`bromsync match` with the school file"
    )
    who = name or "the record"
    if code == "exists":
        return (
            f"ParentPay already holds a record under this ID that bromsync did not upload (from "
            f"an earlier MIS or a manual upload). Run the data-matching exercise, {match}, to pair "
            f"it with {who} and keep its account; if it is someone else, ask {_PARENTPAY_SUPPORT} "
            "which record holds the ID."
        )
    if code == "invalid":
        named = _field_named(message, kind)
        if named is None:
            return (
                f"Correct {who} in Bromcom as ParentPay's message says; the next run sends the "
                f"corrected record. If the message is unclear, ask {_PARENTPAY_SUPPORT}."
            )
        return (
            f"In Bromcom, correct the {LABELS.get(named, named)} ({named}) of {who}: ParentPay "
            "refuses it as it is. The next run sends the corrected record; bromsync never blanks "
            "or trims a value to make it fit."
        )
    if code in ("conflict", "not_found"):
        if now is None:
            state = "ParentPay's record under this ID changed after the plan was made"
        else:
            state = _now(now.get(mis_id))
        return (
            f"{state}, so the {op} did not fit it. Run `bromsync run` again (or `plan`, review, "
            "then `apply`): it reads ParentPay first and plans against what it holds now. If the "
            f"record was changed there on purpose, or the message is unclear, ask {_PARENTPAY_SUPPORT}."
        )
    return (
        f"ParentPay's message says what is wrong; correct {who} in Bromcom if it names a field, "
        f"or ask {_PARENTPAY_SUPPORT}."
    )


def _held(plan: Plan, people: Mapping[str, Record], school_file: str | None) -> list[Problem]:
    out = []
    for check in plan.checks:
        if check["severity"] != "error":
            continue
        # rejected_by_parentpay's details are "mis_id: code: message", one per record.
        earlier = {}
        if check["name"] == "rejected_by_parentpay":
            for detail in check.get("details") or []:
                mis_id, _, rest = detail.partition(": ")
                earlier[mis_id] = rest.partition(": ")
        for mis_id in check["records"]:
            fields = _fields(people, mis_id, None)
            who = label(mis_id, fields)
            if mis_id in earlier:
                code, _, said = earlier[mis_id]
                message = (
                    f"ParentPay refused it at its last upload ({code}: {said}) and its data has "
                    "not changed since, so it was not sent again"
                )
                fix = rejection_fix(
                    code, said, kind=check["type"], op="upload", name=person_name(fields),
                    school_file=school_file,
                )  # fmt: skip
                details: tuple[str, ...] = ()
            else:
                message = " ".join(check["message"].split())
                fix = " ".join(check["remediation"].split())
                details = tuple(check.get("details") or ())
            out.append(Problem(
                kind="held", type=check["type"], mis_id=mis_id, who=who, name=person_name(fields),
                reason=check["name"], message=message, fix=fix, details=details,
            ))  # fmt: skip
    return out


def _rejected(
    results: Sequence[OpResult],
    plan: Plan | None,
    people: Mapping[str, Record],
    school_file: str | None,
    now: Mapping[str, Record] | None,
) -> list[Problem]:
    out = []
    for r in results:
        if r["status"] != "rejected":
            continue
        fields = _fields(people, r["mis_id"], plan)
        who = label(r["mis_id"], fields)
        message = str(r.get("message") or "")
        fix = rejection_fix(
            r.get("code"), message, kind=r["type"], op=r["op"], name=person_name(fields),
            school_file=school_file, now=now, mis_id=r["mis_id"],
        )  # fmt: skip
        out.append(
            Problem(
                kind="rejected",
                type=r["type"],
                mis_id=r["mis_id"],
                who=who,
                name=person_name(fields),
                reason=str(r.get("code")),
                message=message,
                fix=fix,
                op=r["op"],
            )  # fmt: skip
        )
    return out


def failure_fix(error: BromsyncError, school_file: str | None) -> str:
    """What to do about the error that stopped a school, in the words of the set-up guide."""
    check = (
        f"`bromsync check {school_file}`" if school_file else "`bromsync check` on the school file"
    )
    if isinstance(error, MissingSecretError):
        return (
            "Set the variable the message names on the machine that runs bromsync, to the "
            "password recorded at step 4 of the Bromcom set-up, then run again."
        )
    if isinstance(error, BlockedPlanError):
        return "Make a new plan once the cause is fixed, review it, then apply it."
    if isinstance(error, PlanError):
        return "Run `bromsync plan` again, review the new plan, then `bromsync apply` it."
    if isinstance(error, ConfigError):
        target = school_file or "the school file"
        return f"Run `bromsync validate {target}` and fix each problem it lists, then run again."
    if isinstance(error, BromcomCredentialsError | BromcomSchoolIdError):
        return (
            "Compare the username, password and MIS OrgID with those recorded at step 4 of the "
            f"Bromcom set-up (and in ParentPay's MIS upload credentials), then run {check}."
        )
    if isinstance(error, BromcomPermissionError):
        return (
            "In Bromcom, tick the entities the message names for the web-service account (steps "
            f'6-7 of ParentPay\'s set-up guide: Third-Party Account = "ParentPay"), then run {check}.'
        )
    if isinstance(error, BromcomUnreachable):
        return (
            "Check bromcom.url against the MIS URL the school gave; if it is right, Bromcom may "
            "be down: the next run tries again."
        )
    if isinstance(error, SourceError):
        return f"Run {check}; if Bromcom keeps failing, send this message to bromsync support."
    if isinstance(error, ParentPayAuthError):
        return "Check BROMSYNC_PARENTPAY_TOKEN with ParentPay support; nothing was pushed after the refusal."
    if isinstance(error, ParentPaySiteNotFound):
        return (
            "Check school.parentpay_site_id in the school file against the site id ParentPay "
            "support gave for the school."
        )
    if isinstance(error, TargetError):
        return (
            "ParentPay did not take the push; what it acknowledged is kept. Do what the message "
            "says to finish it (nothing is sent twice)."
        )
    return "Run again; if it keeps failing, send this message to bromsync support."


def blocked_fix(
    reason: str, plan: Plan | None = None, files: Mapping[str, str] | None = None
) -> str:
    """What to do about a blocked plan: the guard's own reason says what to check, and a plan
    a flag can release names its file and the `apply` command that pushes it after review."""
    flags = plan.release_flags() if plan is not None else None
    files = files or {}
    if flags and "plan" in files:
        report = f" ({files['report']})" if "report" in files else ""
        return (
            f"Check what the reason names in the plan's report{report}. If the changes are real, "
            f"push exactly that plan with `bromsync apply {files['plan']} {' '.join(flags)}`; "
            "otherwise fix the cause and run again."
        )
    if "--allow-mass" in reason:
        return (
            "Check what the reason names first. If the changes are real, make the plan with "
            "`bromsync plan --out DIR`, review its report, then push that reviewed plan with "
            "`bromsync apply` and the flag the reason names; otherwise fix the cause and run again."
        )
    return "Do what the reason says, then run again: the next run plans afresh."


def status_of(exit_code: int, *, blocked: bool) -> str:
    if blocked:
        return "blocked"
    if exit_code == ExitCode.OK:
        return "ok"
    if exit_code == ExitCode.INCOMPLETE:
        return "incomplete"
    return "error" if exit_code == ExitCode.CONFIG else "failed"


def build_outcome(
    *,
    command: str,
    school: str,
    urn: int | None,
    exit_code: int,
    message: str,
    school_file: str | None = None,
    started_at: dt.datetime | None = None,
    seconds: float = 0.0,
    plan: Plan | None = None,
    people: Mapping[str, Record] | None = None,
    results: Sequence[OpResult] = (),
    parentpay_now: Mapping[str, Record] | None = None,
    error: BromsyncError | None = None,
    files: Mapping[str, str] | None = None,
    released: bool = False,
) -> Outcome:
    """The outcome of one school: `results` are ParentPay's answers to the operations sent,
    `parentpay_now` what ParentPay held after them (read only to explain conflicts);
    `released`: the plan was blocked, and pushed after review with its guards' flags."""
    people = people or {}
    blocked = isinstance(error, BlockedPlanError) or (
        plan is not None and plan.blocked and not released
    )
    out = Outcome(
        command=command,
        school=school,
        urn=urn,
        exit_code=int(exit_code),
        status=status_of(exit_code, blocked=blocked),
        message=message,
        school_file=school_file,
        started_at=None if started_at is None else started_at.isoformat(timespec="seconds"),
        seconds=round(seconds, 3),
        files=dict(files or {}),
    )
    if plan is not None:
        out.site_id, out.today, out.plan_digest = plan.site_id, plan.data.get("today"), plan.digest
        out.summary = plan.summary
        out.held = _held(plan, people, school_file)
        out.held_count = len(plan.held_back())
        if blocked:
            out.blocked_reason = plan.blocked_reason
            out.blocked_count = len(plan.data["changes"])
            out.fix = blocked_fix(plan.blocked_reason or "", plan, out.files)
    out.operations = [
        {k: r.get(k) for k in ("index", "op", "type", "mis_id", "status", "code", "message")}
        for r in results
    ]
    out.rejected = _rejected(results, plan, people, school_file, parentpay_now)
    if error is not None and not isinstance(error, BlockedPlanError):
        out.failure = {"error": type(error).__name__, "message": str(error)}
        out.fix = out.failure["fix"] = failure_fix(error, school_file)
    elif isinstance(error, BlockedPlanError) and out.blocked_reason is None:
        out.blocked_reason = str(error)
        out.fix = failure_fix(error, school_file)
    return out


def report_note(o: Outcome) -> str:
    """What `run` did with its plan: the plan's report, rewritten after the push, says it."""
    results = o.files.get("results_md")
    see = f" What happened to each record, and what to fix: `{results}`." if results else ""
    if o.status == "blocked":
        return f"`bromsync run` did not push this plan: it is blocked.{see}"
    if o.failure is not None:
        return f"`bromsync run` did not finish: {o.failure['message'].rstrip('.')}.{see}"
    return f"Pushed by `bromsync run`: {o.message}.{see}"


def results_json(outcome: Outcome) -> dict[str, Any]:
    """`<urn>.results.json` (docs/results.md): the JSON keeps ParentPay's messages as they are."""
    o = outcome
    return {
        "format_version": FORMAT_VERSION,
        "command": o.command,
        "school": {"urn": o.urn, "name": o.school, "file": o.school_file, "site_id": o.site_id},
        "status": o.status,
        "exit_code": o.exit_code,
        "message": o.message,
        "started_at": o.started_at,
        "seconds": o.seconds,
        "today": o.today,
        "plan_digest": o.plan_digest,
        "counts": counts(o),
        "summary": o.summary,
        "operations": o.operations,
        "held_back": [p.to_json() for p in o.held],
        "rejected": [p.to_json() for p in o.rejected],
        "blocked": None if o.blocked_reason is None else {"reason": o.blocked_reason, "fix": o.fix},
        "failed": o.failure,
        "files": o.files,
        "notification": o.notification,
    }


def tally(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """How many schools were ok, need attention (held back, rejected, blocked) or failed."""
    ok = sum(1 for o in outcomes if o.status == "ok")
    attention = sum(1 for o in outcomes if o.status in ("incomplete", "blocked"))
    return {"schools": len(outcomes), "ok": ok, "need_attention": attention,
            "failed": len(outcomes) - ok - attention}  # fmt: skip


def run_results_json(
    outcomes: Sequence[Outcome],
    *,
    command: str,
    version: str,
    invocation_id: str,
    started_at: dt.datetime,
    seconds: float,
    exit_code: int,
) -> dict[str, Any]:
    """`<DIR>/run-results.json`: one entry per school of one invocation, as dbt's
    run_results.json serves CI (docs/results.md)."""
    return {
        "format_version": FORMAT_VERSION,
        "metadata": {
            "bromsync_version": version,
            "command": command,
            "invocation_id": invocation_id,
            "started_at": started_at.isoformat(timespec="seconds"),
        },
        "elapsed_seconds": round(seconds, 3),
        "exit_code": int(exit_code),
        "tally": tally(outcomes),
        "results": [
            {
                "school": {"urn": o.urn, "name": o.school, "file": o.school_file},
                "status": o.status,
                "exit_code": o.exit_code,
                "message": o.message,
                "counts": counts(o),
                "started_at": o.started_at,
                "seconds": o.seconds,
                "files": o.files,
                "notification": o.notification,
            }
            for o in outcomes
        ],
    }


def counts(o: Outcome) -> dict[str, int]:
    """The counts CI reads: operations applied and rejected, records held back, changes blocked."""
    return {
        "applied": o.applied,
        "rejected": len(o.rejected),
        "held_back": o.held_count,
        "blocked": o.blocked_count,
    }


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- Markdown: the results file and the text part of the results message -----------------------

_PROSE = str.maketrans({c: "\\" + c for c in "\\|<>[]"})


def _prose(text: object) -> str:
    """bromsync's own sentences, which mark commands with `backticks`: those are kept, and the
    data in them (names, paths) can still open no table, link or tag."""
    return " ".join(str(text).split()).translate(_PROSE)


def lead(o: Outcome) -> str:
    """The bold line under the title: what became of the school, in a few words."""
    if o.failure is not None:
        return "Nothing more could be done for this school: see why below."
    if o.blocked_reason is not None:
        return f"Blocked by a guard: nothing was pushed ({_changes(o.blocked_count)} planned)."
    return o.message


def _changes(n: int) -> str:
    return f"{n} change" + ("" if n == 1 else "s")


_FILES = {
    "plan": "Plan",
    "report": "Plan report",
    "report_html": "Plan report for a browser",
    "results_json": "These results as JSON",
    "results_md": "These results",
}


def headline(o: Outcome) -> str:
    """'Oakfield Primary School: needs attention', the results' title and the message's subject."""
    return f"{o.school}: {STATUSES[o.status]}"


def _noun(kind: str, n: int) -> str:
    rt = RECORD_TYPES.get(kind)
    if rt is None:
        return f"{n} record" + ("" if n == 1 else "s")
    return f"{n} {rt.one if n == 1 else rt.many}"


def _counts_table(o: Outcome) -> list[str]:
    if o.summary is None:
        return []
    rows = []
    for kind, title in ((k, RECORD_TYPES[k].title) for k in RECORD_TYPES if k in o.summary):
        planned = sum(n for op, n in o.summary[kind].items() if op != "unchanged")
        applied = sum(1 for x in o.operations if x["type"] == kind and x["status"] == "applied")
        rejected = sum(1 for p in o.rejected if p.type == kind)
        held = len({p.mis_id for p in o.held if p.type == kind})
        if planned or applied or rejected or held:
            rows.append(f"| {title} | {planned} | {applied} | {rejected} | {held} |")
    if not rows:
        return []
    return [
        "|  | Planned | Applied | Rejected | Held back |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
    ]


def _md_rejected(o: Outcome, show: bool) -> list[str]:
    if not o.rejected:
        return []
    out = [f"## Rejected by ParentPay: {len(o.rejected)}", ""]
    for p in o.rejected:
        out.append(
            f"- **{md(p.who)}** ({p.op} {RECORD_TYPES[p.type].one if p.type in RECORD_TYPES else p.type}): "
            f"`{p.reason}`: {md(masked(p.message, show))}"
        )
        out.append(f"  - **To fix:** {_prose(p.fix)}")
    return [*out, ""]


def _md_held(o: Outcome, show: bool) -> list[str]:
    if not o.held:
        return []
    out = [f"## Held back by checks: {_noun('', o.held_count)}", ""]
    out.append("_Neither created, updated nor archived until fixed; the rest went ahead._")
    out.append("")
    groups: dict[tuple[str, str, str, str], list[Problem]] = {}
    for p in o.held:
        groups.setdefault((p.reason, p.type, p.message, p.fix), []).append(p)
    for (check, kind, message, fix), problems in groups.items():
        out += [
            f"### `{check}`: {_noun(kind, len(problems))}",
            "",
            _prose(masked(message, show)),
            "",
        ]
        if problems[0].details:
            found = ", ".join(f"`{masked(d, show).replace('`', '')}`" for d in problems[0].details)
            out.append(f"- Values found: {found}")
        out += [f"- {md(p.who)}" for p in problems]
        out += [f"- **To fix:** {_prose(fix)}", ""]
    return out


def render_results_markdown(o: Outcome, *, show_sensitive: bool = False) -> str:
    """`<urn>.results.md`, and the text of the results message (always masked there)."""
    show = show_sensitive
    out = [f"# {md(headline(o))}", "", f"**{md(lead(o))}**", ""]
    meta = [f"`bromsync {o.command}`"]
    meta += [f"URN {o.urn}"] if o.urn else []
    meta += [f"ParentPay site {o.site_id}"] if o.site_id else []
    meta += [f"today {o.today}"] if o.today else []
    meta += [f"started {o.started_at}"] if o.started_at else []
    meta += [f"{o.seconds:.1f} s"]
    out += [" · ".join(meta), ""]
    if o.failure is not None:
        out += ["## Failed: nothing more could be done", "", _prose(o.failure["message"]), ""]
        out += [f"**To fix:** {_prose(o.fix or '')}", ""]
    if o.blocked_reason is not None:
        out += ["## Blocked by a guard"]
        reason = o.blocked_reason[:1].upper() + o.blocked_reason[1:]
        out += ["", _prose(reason), "", f"**To fix:** {_prose(o.fix or '')}", ""]
    out += _counts_table(o)
    if o.summary is not None and not o.blocked_reason and o.failure is None and not o.operations:
        rest = "nothing else" if o.held else "nothing in ParentPay"
        out += [f"Nothing was pushed: {rest} needed changing.", ""]
    out += _md_rejected(o, show)
    out += _md_held(o, show)
    if o.files:
        out += ["## Files", ""]
        out += [f"- {_FILES.get(name, name)}: `{path}`" for name, path in o.files.items()]
        out.append("")
    out += ["---", ""]
    out.append(
        "Every operation ParentPay answered, with its code and message, is in the results JSON."
        if show
        else f"Dietary needs and free-meal values are shown as {MASK}. Every operation ParentPay "
        "answered, with its code and message, is in the results JSON."
    )
    return "\n".join(out) + "\n"
