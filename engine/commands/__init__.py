"""One module per verb; each takes loaded settings and returns a result with its exit code."""
