"""Stage 7, what people read: the plan's report as Markdown and HTML, the match report, the set-up checklist."""
