"""Progress events: the engine reports what it does, and the CLI decides how to show it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Something worth telling the person watching a run."""

    school: str  # the school's name
    stage: str  # fetch, map, plan, push
    message: str


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    """An event sink for callers that do not show progress."""


def school_headline(name: str, urn: int | None, message: str) -> str:
    """ "School (urn): message", unless the message already opens with the school's name and
    file (source errors do), so the school is not named twice."""
    if message.startswith(f"{name} ("):
        return message
    label = f"{name} ({urn})" if urn else name
    return f"{label}: {message}"


# How often a long wait says it is still waiting: CI systems kill jobs silent for ~10 minutes,
# and a person watching should never wonder whether bromsync hung.
HEARTBEAT_SECONDS = 30.0


@contextmanager
def heartbeat(
    say: Callable[[str], None], what: str, *, every: float | None = None
) -> Iterator[None]:
    """While the block runs, say "still waiting for <what>: 30 s" every `every` seconds.

    The wait itself is left alone: the line comes from a daemon thread that stops, and is
    joined, as soon as the block ends, however it ends.
    """
    interval = HEARTBEAT_SECONDS if every is None else every
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(interval):
            say(f"still waiting for {what}: {time.monotonic() - started:.0f} s so far")

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
