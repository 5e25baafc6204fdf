"""Plan: the reviewed unit of work (docs/plan.md) and its integrity digest.

A plan names the baseline it was computed against, so `apply` can refuse it once ParentPay's
acknowledged state has moved on, and carries a digest of its own content, so an edited plan
file is refused too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.checks.run import CheckHit
from engine.config.school import SchoolConfig
from engine.digest import digest
from engine.errors import PlanError
from engine.files import write_private
from engine.plan.diff import Change, empty_summary, operation_of
from engine.plan.guards import GuardHit, blocked_reason, blocking, plan_next_step, release_flags
from engine.records import OPS

FORMAT_VERSION = 1


def summary_line(summary: Mapping[str, Mapping[str, int]]) -> str:
    """'3 to create, 1 to update, 2 to archive', or 'nothing to change'."""
    verbs = {
        "create": "create",
        "update": "update",
        "archive": "archive",
        "restore": "restore",
        "convert": "convert",
    }
    parts = []
    for op in OPS:
        n = sum(counts[op] for counts in summary.values())
        if n:
            parts.append(f"{n} to {verbs[op]}")
    return ", ".join(parts) if parts else "nothing to change"


@dataclass(frozen=True)
class Plan:
    """A plan as written to `<urn>.plan.json`."""

    data: dict[str, Any]

    @property
    def urn(self) -> int:
        return int(self.data["school"]["urn"])

    @property
    def name(self) -> str:
        return str(self.data["school"]["name"])

    @property
    def site_id(self) -> int:
        return int(self.data["site_id"])

    @property
    def summary(self) -> dict[str, dict[str, int]]:
        """Per type, how many of each operation (and unchanged)."""
        return dict(self.data["summary"])

    @property
    def checks(self) -> list[dict[str, Any]]:
        """The check results as written: name, severity, type, records, message, remediation."""
        return list(self.data["checks"])

    @property
    def blocked_reason(self) -> str | None:
        reason = self.data["blocked_reason"]
        return None if reason is None else str(reason)

    @property
    def guards(self) -> list[GuardHit]:
        """Every guard that fired, lifted by a flag or not (docs/plan.md); [] in a plan
        written before guards were recorded one by one."""
        return [GuardHit.from_json(g) for g in self.data.get("guards", [])]

    def release_flags(self) -> list[str] | None:
        """The flags `apply` needs to push this blocked plan; None if no flag can (the consent
        guard blocks it, or the plan does not say which guards fired)."""
        if not self.blocked:
            return []
        if not blocking(self.guards):
            return None
        return release_flags(self.guards)

    @property
    def offline(self) -> bool:
        """Planned against bromsync's memory alone, without reading ParentPay."""
        return bool(self.data.get("offline", False))

    @property
    def drift(self) -> list[dict[str, Any]]:
        return list(self.data.get("drift", []))

    @property
    def holds_back(self) -> bool:
        """An error check held records back: they are neither planned nor pushed."""
        return any(c["severity"] == "error" for c in self.data["checks"])

    @property
    def baseline(self) -> str | None:
        value = self.data["baseline"]
        return None if value is None else str(value)

    @property
    def digest(self) -> str:
        return str(self.data["digest"])

    @property
    def blocked(self) -> bool:
        return bool(self.data["blocked"])

    def held_back(self) -> set[str]:
        """The records error checks held back, each once (a record may trip several checks)."""
        return {m for c in self.data["checks"] if c["severity"] == "error" for m in c["records"]}

    def changes(self) -> list[Change]:
        return [
            Change(
                c["op"],
                c["type"],
                c["mis_id"],
                c.get("fields", {}),
                c.get("before"),
                c.get("reason"),
            )
            for c in self.data["changes"]
        ]

    def operations(self) -> list[dict[str, Any]]:
        """The plan's changes as ParentPay upload operations."""
        return [operation_of(change) for change in self.changes()]


def _digest(data: Mapping[str, Any]) -> str:
    return digest({k: v for k, v in data.items() if k != "digest"})


def build_plan(
    *,
    school: SchoolConfig,
    run_id: str,
    today: str,
    baseline_id: str | None,
    changes: Sequence[Change],
    summary: Mapping[str, Mapping[str, int]] | None,
    checks: Sequence[CheckHit],
    no_consent: int,
    no_consent_records: Sequence[Mapping[str, Any]] = (),
    left_out: Mapping[str, Mapping[str, int]],
    guards: Sequence[GuardHit] = (),
    drift: Sequence[Mapping[str, Any]] = (),
    unmanaged: Mapping[str, int] | None = None,
    adopted: Sequence[str] = (),
) -> Plan:
    """The plan as written to `<urn>.plan.json`. `unmanaged` None: planned --offline, without
    reading ParentPay (docs/plan.md); `apply` refuses such a plan. `guards`: every guard that
    fired; the plan is blocked when one of them was not lifted by its flag."""
    flags = release_flags(guards)
    reason = blocked_reason(guards, None if flags is None else plan_next_step(school.urn, flags))
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "school": {"urn": school.urn, "name": school.name},
        "baseline": baseline_id,
        "summary": summary or empty_summary(),
        # A blocked plan keeps its changes for the reviewer; `apply` refuses it.
        "changes": [c.to_json() for c in changes],
        "checks": [
            {
                "name": hit.name,
                "severity": hit.severity,
                "type": hit.type,
                "records": hit.records,
                "details": hit.details,
                "message": hit.message,
                "remediation": hit.remediation,
            }
            for hit in checks
        ],
        "excluded": {"no_consent": no_consent},
        # Who they are (type and mis_id; the report names them), so the school can tick consent.
        "no_consent_records": [
            {"type": r["type"], "mis_id": r["mis_id"]} for r in no_consent_records
        ],
        "left_out": {kind: dict(rules) for kind, rules in left_out.items()},
        "blocked": reason is not None,
        "blocked_reason": reason,
        "guards": [g.to_json() for g in guards],
        "drift": [dict(d) for d in drift],
        "drift_mode": school.drift,
        "check_settings": school.check_settings(),
        "unmanaged": None if unmanaged is None else dict(unmanaged),
        "offline": unmanaged is None,
        "adopted": list(adopted),
        "site_id": school.parentpay_site_id,
        # Who `apply` sends the results message to: it has the plan, not the school file.
        "notify": {"email": list(school.notify_email), "when": school.notify_when},
        "run_id": run_id,
        "today": today,
    }
    data["digest"] = _digest(data)
    return Plan(data)


@dataclass(frozen=True)
class PlanFiles:
    """Where a plan was written: the JSON `apply` reads, and the report for people."""

    json: Path
    markdown: Path
    html: Path


def write_plan(plan: Plan, out_dir: Path, *, markdown: str, html: str) -> PlanFiles:
    """`<urn>.plan.json`, `.plan.md` and `.plan.html` in `out_dir`."""
    files = PlanFiles(*(out_dir / f"{plan.urn}.plan.{ext}" for ext in ("json", "md", "html")))
    write_private(files.json, json.dumps(plan.data, indent=2, ensure_ascii=False) + "\n")
    write_private(files.markdown, markdown)
    write_private(files.html, html)
    return files


def read_plan(path: Path) -> Plan:
    """A plan file, refused if it is unreadable or was edited after it was written."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(
            f"{path} does not exist: give a <urn>.plan.json written by `bromsync plan`"
        ) from None
    except OSError as exc:
        raise PlanError(f"cannot read the plan {path}: {exc.strerror}") from None
    except ValueError:
        raise PlanError(
            f"{path} is not a plan file (it is not JSON): give a <urn>.plan.json written by `bromsync plan`"
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("format_version") != FORMAT_VERSION
        or "digest" not in data
    ):
        raise PlanError(
            f"{path} is not a bromsync plan (format_version {FORMAT_VERSION}); run `bromsync plan` again"
        )
    if _digest(data) != data["digest"]:
        raise PlanError(
            f"{path} was changed after bromsync wrote it, so it is not the plan that was reviewed; "
            "run `bromsync plan` again and review the new plan"
        )
    return Plan(data)
