"""bromsync.py, the command line itself: what every command shares."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bromsync import cli


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("", True), ("1", False)])
def test_no_color_leaves_the_colours_out_even_on_a_terminal(
    tmp_path: Path, no_color: str | None, coloured: bool
) -> None:
    # color=True: the runner's output is treated as a terminal that shows colours.
    result = CliRunner().invoke(
        cli, ["apply", str(tmp_path / "none.plan.json")], color=True, env={"NO_COLOR": no_color}
    )
    assert result.exit_code == 2
    assert "error: " in result.output
    assert ("\x1b[" in result.output) is coloured
