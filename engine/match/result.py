"""What the data-matching exercise found for one school, and where its report was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.match.people import DECIDE_KINDS, Entry


@dataclass(frozen=True)
class MatchFiles:
    """Where a match report was written."""

    json: Path
    markdown: Path


@dataclass
class MatchResult:
    """One school's data-matching exercise, and what --apply did."""

    name: str
    urn: int
    site_id: int
    today: str
    run_id: str
    baseline: str | None  # the school's last acknowledged upload when the match was made
    entries: list[Entry]
    held: frozenset[str] = frozenset()  # Bromcom records today's checks hold back
    digest: str = ""
    apply: bool = False  # --apply was asked for
    refused: str | None = None  # why --apply sent nothing
    adopted: int = 0  # records already under their Bromcom ID, now recorded as uploaded
    files: MatchFiles | None = None
    state: Path | None = None
    rekeys: list[Entry] = field(default_factory=list)  # certain and probable, in sending order

    @property
    def to_decide(self) -> list[Entry]:
        return [e for e in self.entries if e.kind in DECIDE_KINDS]

    @property
    def rejected(self) -> list[Entry]:
        return [e for e in self.rekeys if e.outcome not in (None, "applied")]

    @property
    def exit_code(self) -> int:
        """0 nothing to decide; 3 a person must decide something, or --apply did not all go."""
        return 3 if self.to_decide or self.refused or self.rejected else 0

    @property
    def message(self) -> str:
        parts = [f"{len(self.rekeys)} to re-key"]
        parts += [
            f"{n} {kind}"
            for kind in DECIDE_KINDS
            if (n := sum(e.kind == kind for e in self.entries))
        ]
        if self.apply:
            if self.refused:
                parts.append("--apply refused, nothing sent")
            else:
                parts.append(f"{sum(e.outcome == 'applied' for e in self.rekeys)} re-keyed")
                if self.rejected:
                    parts.append(f"{len(self.rejected)} rejected by ParentPay")
        return ", ".join(parts)
