"""`bromsync demo`: a generated school synced twice through both simulators, in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bromsync import cli


def test_demo_syncs_then_the_second_sync_pushes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROMSYNC_TODAY", "2026-11-28")
    monkeypatch.delenv("BROMSYNC_PARENTPAY_URL", raising=False)
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo"), "--size", "tiny"])
    assert result.exit_code == 0, result.output
    assert "first sync:" in result.output and "applied" in result.output
    assert "second sync: nothing to push" in result.output
    state = tmp_path / "demo" / "state"
    assert len(list(state.glob("*.duckdb"))) == 1
    assert (tmp_path / "demo" / "plans").is_dir()
    assert "sync plan" in result.output  # the report's head was printed
    assert "BROMSYNC_PARENTPAY_URL" not in os.environ  # the demo's settings do not outlive it
