"""Where people records go: a small Protocol and a registry of the targets bromsync knows.

ParentPay's People API (docs/parentpay-api.md) is the only target today; a CSV drop for ParentPay's
manual upload, or another payments system, would be another entry in `TARGETS`, and the
planner and the apply step would not change.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.records import OpResult

# Called after each acknowledged batch with (batch_index, batch_count, that batch's results),
# so acknowledgements can be recorded as they arrive and survive a later batch failing.
BatchCallback = Callable[[int, int, list[OpResult]], None]
# Called before the target waits to try a request again, with (seconds, why): `why` says what
# went wrong and how long the wait is, in words for the person watching the run.
WaitCallback = Callable[[float, str], None]


@dataclass(frozen=True)
class PushResult:
    """What the target acknowledged: one upload id per batch and one result per operation."""

    upload_ids: tuple[str, ...] = ()
    results: tuple[OpResult, ...] = field(default_factory=tuple)

    @property
    def applied(self) -> int:
        return sum(1 for r in self.results if r["status"] == "applied")

    @property
    def rejected(self) -> int:
        return sum(1 for r in self.results if r["status"] == "rejected")


class Target(Protocol):
    """A system that holds people records for a site and accepts operations on them."""

    def people(
        self, site_id: int, type: str | None = None, status: str = "all"
    ) -> list[dict[str, Any]]:
        """The site's people, optionally of one type; status "active", "archived" or "all"."""
        ...

    def push(
        self,
        site_id: int,
        operations: Sequence[dict[str, Any]],
        key_prefix: str,
        on_batch: BatchCallback | None = None,
        *,
        skip_batches: Collection[int] = (),
        on_wait: WaitCallback | None = None,
    ) -> PushResult:
        """Apply `operations` in order; `key_prefix` makes a re-run replay instead of re-apply.

        Batches are numbered as in the whole of `operations`, and those in `skip_batches`
        (already acknowledged) are not sent: finishing a push that was cut off sends the
        others with the keys they had.
        """
        ...

    def close(self) -> None:
        """Release the connection; the target is not used after."""
        ...


# A target is configured from the environment (docs/school-file.md), the same for every school; the
# school only supplies the site id at call time.
TargetFactory = Callable[..., Target]  # keyword options, e.g. timeout=60


def _parentpay(**options: Any) -> Target:
    from engine.targets.parentpay import ParentPayClient

    return ParentPayClient.from_env(**options)


TARGETS: dict[str, TargetFactory] = {"parentpay": _parentpay}
