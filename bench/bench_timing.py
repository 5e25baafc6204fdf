"""What the benchmarks share: a results row, timing helpers, the correctness check, the table."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class BenchError(RuntimeError):
    """A benchmark produced a wrong result (not a slow one: timings are never judged)."""


def check(ok: bool, message: str) -> None:
    if not ok:
        raise BenchError(message)


@dataclass
class Row:
    """One line of the results table."""

    what: str
    school: str
    seconds: list[float] = field(default_factory=list)
    note: str = ""

    def cells(self) -> list[str]:
        if not self.seconds:
            return [self.what, self.school, "", "", "", "", self.note]
        return [
            self.what,
            self.school,
            f"{statistics.median(self.seconds):.3f}",
            f"{min(self.seconds):.3f}",
            f"{max(self.seconds):.3f}",
            str(len(self.seconds)),
            self.note,
        ]


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def once(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def peak_kib() -> int:
    """This process's peak resident memory in KiB.

    ru_maxrss is the obvious measure, but on Linux a child keeps the high-water mark of the
    process it was forked from across exec: started from this bench (simulators, generated
    data) it reports the bench's memory, not its own. /proc's VmHWM belongs to the new program
    alone, so it is used where there is one.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux, bytes on macOS


def render(rows: list[Row]) -> str:
    header = ["what", "school", "median s", "min s", "max s", "runs", "note"]
    cells = [header] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    right = {2, 3, 4, 5}

    def line(c: list[str]) -> str:
        pairs = enumerate(zip(c, widths, strict=True))
        return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in pairs)

    return "\n".join([line(c).rstrip() for c in [header, ["-" * w for w in widths], *cells[1:]]])
