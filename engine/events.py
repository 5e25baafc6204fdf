"""Progress events: the engine reports what it does, and the CLI decides how to show it."""

from __future__ import annotations

from collections.abc import Callable
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
