"""How long the one read of ParentPay a plan makes takes: GET people?status=all of 2,266 records.

    .venv/bin/python bench/bench_parentpay_read.py

The size of the generated secondary's first sync, served by the ParentPay simulator on loopback.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.records import RECORD_FIELDS
from engine.targets.parentpay import ParentPayClient
from simulators.parentpay import ParentPaySimulator

with (
    tempfile.TemporaryDirectory() as tmp,
    ParentPaySimulator(Path(tmp), token="t", sites=[1]) as sim,
):
    people = []
    for i in range(2266):
        f = dict.fromkeys(RECORD_FIELDS["pupil"])
        f |= {
            "fsm": False,
            "dietary": [],
            "forename": f"A{i}",
            "surname": "Smith",
            "dob": "2015-01-01",
            "year_code": "5",
        }
        people.append({"mis_id": str(10000 + i), "type": "pupil", "status": "active", "fields": f})
    sim.seed(1, people)
    os.environ["BROMSYNC_PARENTPAY_URL"], os.environ["BROMSYNC_PARENTPAY_TOKEN"] = sim.url, "t"
    client = ParentPayClient.from_env()
    times = []
    for _ in range(7):
        t = time.perf_counter()
        got = client.people(1, status="all")
        times.append(time.perf_counter() - t)
    print(
        f"GET people?status=all, {len(got)} records: median {statistics.median(times):.3f} s (min {min(times):.3f})"
    )
