"""engine/events.py: the heartbeat a long wait prints."""

from __future__ import annotations

import threading
import time

from engine.events import heartbeat


def test_a_long_wait_says_it_is_still_waiting_and_stops_when_it_ends() -> None:
    said: list[str] = []
    with heartbeat(said.append, "Bromcom's answer for Students", every=0.05):
        time.sleep(0.18)
    count = len(said)
    assert count >= 2 and said[0].startswith("still waiting for Bromcom's answer for Students: ")
    assert said[0].endswith(" s so far")
    time.sleep(0.12)
    assert len(said) == count  # nothing after the block
    assert not [t for t in threading.enumerate() if t.name == "heartbeat"]


def test_a_short_wait_says_nothing_and_an_error_still_stops_the_beat() -> None:
    said: list[str] = []
    try:
        with heartbeat(said.append, "ParentPay", every=0.05):
            raise ValueError("boom")
    except ValueError:
        pass
    time.sleep(0.1)
    assert said == []
