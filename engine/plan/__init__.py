"""Stage 6, plan: the diff against the baseline, the guards, and the typed Plan with its digest."""
