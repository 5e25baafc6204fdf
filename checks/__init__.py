"""The SQL check packs shipped with bromsync (data only; see docs/checks.md)."""
