"""bench/handwritten.py builds the same records as the engine, so the benchmark compares like with like."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from engine.config.school import load_school
from engine.pipeline import school_settings
from engine.sources.bromcom import BromcomSource
from engine.transform.functions import MappingFunctions
from engine.transform.mapping import load_mappings
from engine.transform.transform import transform
from tests.conftest import FIXTURE_TODAY, Stack
from tests.helpers import REPO

sys.path.insert(0, str(REPO / "bench"))
import handwritten


def _engine_records(school_file: Path, today: dt.date) -> dict[tuple[str, str], Any]:
    school = load_school(school_file)
    mappings = load_mappings(school.options)
    source = BromcomSource.for_school(school)
    try:
        tables = {e: source.fetch(e) for m in mappings for e in m.entities()}
    finally:
        source.close()
    functions = MappingFunctions(today=today, settings=school_settings(school))
    consent = school.lawful_basis == "consent"
    return {
        (r["type"], r["mis_id"]): r["fields"]
        for m in mappings
        for r in transform(m, tables, functions=functions, consent_required=consent).records
    }


def _baseline_records(school_file: Path, today: dt.date) -> dict[tuple[str, str], Any]:
    school = yaml.safe_load(school_file.read_text(encoding="utf-8"))
    with requests.Session() as session:
        data = handwritten.fetch_all(session, school)
    return {
        (r["type"], r["mis_id"]): r["fields"]
        for r in handwritten.build_records(school, data, today)
    }


@pytest.mark.parametrize("basis", ["legitimate_interest", "consent"])
def test_the_fixture_school_with_every_awkward_case(stack: Stack, basis: str) -> None:
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(text.replace("legitimate_interest", basis), encoding="utf-8")
    today = dt.date.fromisoformat(FIXTURE_TODAY)
    engine = _engine_records(stack.school_file, today)
    assert engine and _baseline_records(stack.school_file, today) == engine


def test_a_generated_primary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulators.bromcom import BromcomSimulator
    from simulators.datagen import generate_school, write_school_file

    today = dt.date(2026, 11, 28)
    summary = generate_school(
        tmp_path / "bromcom", org_id=40002, seed=7, size="primary", today=today,
        username="bench", password="pw", urn=100002,
    )  # fmt: skip
    monkeypatch.setenv("BENCH_PASSWORD", "pw")
    with BromcomSimulator(tmp_path / "bromcom") as bromcom:
        path = tmp_path / "school.yaml"
        write_school_file(path, summary, url=bromcom.url, password_env="BENCH_PASSWORD",
                          parentpay_site_id=7001)  # fmt: skip
        engine = _engine_records(path, today)
        assert len(engine) > 200 and _baseline_records(path, today) == engine
