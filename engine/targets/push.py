"""Push and acknowledge: the one way operations reach ParentPay and bromsync's memory of it.

Each batch ParentPay answers is recorded in the school's state, with the new state of every
record it applied, before the next batch is sent: a run killed between two batches keeps what
the first one did.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from engine.records import OpResult, Record
from engine.state.store import State
from engine.targets import BatchCallback, PushResult, Target, WaitCallback


def push_and_acknowledge(
    target: Target,
    state: State,
    *,
    site_id: int,
    operations: Sequence[dict[str, Any]],
    key_prefix: str,
    run_id: str,
    digest: str,
    new_state: Callable[[OpResult], Record | None],
    on_batch: BatchCallback | None = None,
    skip_batches: Collection[int] = (),
    on_wait: WaitCallback | None = None,
) -> PushResult:
    """Push `operations` in batches; record each answered batch in `state` as it arrives.

    `new_state` gives the record as ParentPay now holds it after one applied operation (None
    to leave bromsync's memory of it as it is); `on_batch` is told after each batch is saved.
    `skip_batches` are batches of these operations already acknowledged (finishing a push
    that was cut off); `on_wait` is told each time the target waits to retry.
    """

    def acknowledge(batch: int, batches: int, results: list[OpResult]) -> None:
        new_states = []
        for result in results:
            if result["status"] == "applied" and (record := new_state(result)) is not None:
                new_states.append(record)
        state.acknowledge(
            run_id=run_id,
            plan_digest=digest,
            batch=batch,
            key=results[0]["idempotency_key"],
            upload_id=results[0]["upload_id"],
            results=results,
            new_states=new_states,
        )
        if on_batch is not None:
            on_batch(batch, batches, results)

    extra: dict[str, Any] = {}
    if skip_batches:
        extra["skip_batches"] = skip_batches
    if on_wait is not None:
        extra["on_wait"] = on_wait
    return target.push(site_id, operations, key_prefix, on_batch=acknowledge, **extra)
