"""engine/commands/batch.py: several schools at once, their shares and their combined exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.commands.batch import pick_shard
from engine.errors import ConfigError, ExitCode


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], 0),
        ([0, 0], 0),
        ([0, 3], 3),
        ([3, 1, 0], 1),
        ([1, 3], 1),
        ([0, 3, 3], 3),
        ([1, 2, 3], 2),
        ([0, 130], 1),
    ],
)
def test_two_outranks_one_which_outranks_three_which_outranks_zero(
    codes: list[int], expected: int
) -> None:
    assert ExitCode.worst(codes) == expected


def test_shards_split_the_files_round_robin_and_cover_them_once() -> None:
    files = [Path(f"schools/s{n:02d}.yaml") for n in range(10)]
    shards = [pick_shard(files, f"{i}/3") for i in (1, 2, 3)]
    assert [len(s) for s in shards] == [4, 3, 3]
    assert sorted(p for s in shards for p in s) == sorted(files)
    assert pick_shard(files, None) == files


@pytest.mark.parametrize("bad", ["0/3", "4/3", "two/3", "1-3"])
def test_a_bad_shard_is_a_usage_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="--shard"):
        pick_shard([Path("a.yaml")], bad)
