"""How long the search for possible matches takes: 2,000 Bromcom pupils against 2,000 in ParentPay.

A secondary school's worth of generated pupils (seeded; forenames from the shipped variant list,
common surnames, birthdays over seven school years), and ParentPay holding each of them under
an older MIS's ID, one in ten typed a little differently (a nickname, a slip in the surname, the
date of birth a day out or with day and month swapped). Times `find_near` for every Bromcom
pupil against one `NearIndex` of ParentPay's, the same with a plain list (indexed again on each
call), and the whole `match_people`. Checks that every near miss is found.

    .venv/bin/python bench/bench_near.py [--pupils 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.match.near import NearIndex, find_near, forename_groups
from engine.match.people import match_people

SURNAMES = """Smith Jones Williams Taylor Davies Evans Thomas Johnson Roberts Walker Wright Robinson
Thompson White Hughes Edwards Green Hall Wood Harris Lewis Martin Jackson Clarke Clark Turner Hill
Scott Cooper Morris Ward Moore King Watson Baker Harrison Morgan Patel Young Allen Mitchell James
Anderson Phillips Lee Bell Parker Davis Price Griffiths Owen Murphy Kelly Ryan Walsh Byrne
O'Brien O'Sullivan Doyle McCarthy Gallagher Pritchard Llewellyn Rees Jenkins Powell Bennett
Whitfield Adeyemi Kowalska Nowak Chen Khan Ahmed Ali Hussain Begum Shah Singh Kaur Sharma""".split()


def _people(
    n: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[tuple[str, str]]]:
    rnd = random.Random(seed)
    forenames = sorted(forename_groups())
    start = date(2008, 9, 1)
    bromcom, parentpay, near = [], [], set()
    for i in range(n):
        fore, sur = rnd.choice(forenames).title(), rnd.choice(SURNAMES)
        dob = start + timedelta(days=rnd.randrange(7 * 365))
        bc = {"mis_id": str(10000 + i), "type": "pupil",
              "fields": {"forename": fore, "surname": sur, "dob": dob.isoformat()}}  # fmt: skip
        pp_fields = dict(bc["fields"])
        if i % 10 == 0:  # a near miss
            kind = i // 10 % 3
            if kind == 0:
                pp_fields["surname"] = sur[:-1] + ("x" if sur[-1] != "x" else "y")
            elif kind == 1:
                pp_fields["dob"] = (dob + timedelta(days=1)).isoformat()
            else:
                pp_fields["surname"] = sur + "e"
            near.add((bc["mis_id"], f"OLD{i}"))
        bromcom.append(bc)
        parentpay.append(
            {"mis_id": f"OLD{i}", "type": "pupil", "status": "active", "fields": pp_fields}
        )
    return bromcom, parentpay, near


def _time(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    seconds, out = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        out = fn()
        seconds.append(time.perf_counter() - began)
    return seconds, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    bromcom, parentpay, near = _people(args.pupils, seed=20261128)
    forename_groups()  # loaded once, as in a run

    def indexed() -> set[tuple[str, str]]:
        index = NearIndex(parentpay)
        return {(bc["mis_id"], pp["mis_id"]) for bc in bromcom for pp, _ in find_near(bc, index)}

    def plain() -> set[tuple[str, str]]:
        return {
            (bc["mis_id"], pp["mis_id"]) for bc in bromcom for pp, _ in find_near(bc, parentpay)
        }

    rows = []
    seconds, found = _time(indexed, args.repeats)
    if not near <= found:
        raise SystemExit(f"missed near misses: {sorted(near - found)[:5]}")
    rows.append(
        ("find_near, one NearIndex", seconds, f"{len(found)} near pairs ({len(near)} made)")
    )
    seconds, again = _time(plain, max(1, args.repeats // 2))
    if again != found:
        raise SystemExit("a plain list found other pairs than the index")
    rows.append(("find_near, a list each call", seconds, "filtered by date of birth on each call"))
    seconds, entries = _time(lambda: match_people(parentpay, bromcom, {"pupil"}), args.repeats)
    possible = sum(e.kind == "possible" for e in entries)
    rows.append(("match_people, all steps", seconds, f"{possible} possible"))

    print(
        f"{args.pupils:,} Bromcom x {args.pupils:,} ParentPay pupils, Python {sys.version.split()[0]}"
    )
    print("| what | median s | min s | max s | runs | note |\n|---|---:|---:|---:|---:|---|")
    for what, secs, note in rows:
        print(f"| {what} | {statistics.median(secs):.3f} | {min(secs):.3f} | {max(secs):.3f} | {len(secs)} | {note} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
