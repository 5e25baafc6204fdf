"""Stage 1, the school file: loaded into frozen dataclasses, every problem located as path:line:col."""
