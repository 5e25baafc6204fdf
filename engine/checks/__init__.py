"""Stage 5, checks: SQL check packs run over a run's staged records, and the holds made in Python."""
