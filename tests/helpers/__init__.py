"""Helpers the tests share: where the repository and the fixtures are, and the SOAP test server."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
