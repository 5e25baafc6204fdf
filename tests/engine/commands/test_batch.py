"""engine/commands/batch.py: several schools at once, their shares and their combined exit code."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bromsync import cli
from engine.commands.batch import pick_shard
from engine.errors import ConfigError, ExitCode
from tests.conftest import SITE_ID, Stack


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def other_school(stack: Stack, name: str, urn: int, site: int, password_env: str) -> Path:
    """Another school file on the fixture's Bromcom school, with its own URN and site."""
    text = stack.school_file.read_text(encoding="utf-8")
    text = text.replace("Oakfield Primary School", name).replace("urn: 100001", f"urn: {urn}")
    text = text.replace("parentpay_site_id: 5001", f"parentpay_site_id: {site}")
    text = text.replace("BROMCOM_PASSWORD_OAKFIELD", password_env)
    path = stack.root / f"{name.split()[0].lower()}.yaml"
    path.write_text(text, encoding="utf-8")
    stack.parentpay.add_site(site)
    return path


def school_files(folder: Path, urns: list[int | str]) -> list[Path]:
    """Minimal files naming only their URN: the shares read nothing else."""
    folder.mkdir(exist_ok=True)
    paths = []
    for urn in urns:
        path = folder / f"s{urn}.yaml"
        path.write_text(f"school: {{name: School {urn}, urn: {urn}}}\n", encoding="utf-8")
        paths.append(path)
    return paths


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


@pytest.mark.parametrize("bad", ["0/3", "4/3", "two/3", "1-3"])
def test_a_bad_shard_is_a_usage_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="--shard"):
        pick_shard([Path("a.yaml")], bad)


def test_shares_partition_the_schools_by_urn_whatever_the_order(tmp_path: Path) -> None:
    files = school_files(tmp_path, list(range(100001, 100011)))
    shares = [pick_shard(files, f"{i}/3") for i in (1, 2, 3)]
    # Share I holds the URNs that leave I - 1 when divided by N.
    assert [[int(p.stem[1:]) % 3 for p in share] for share in shares] == [
        [0, 0, 0],
        [1, 1, 1],
        [2, 2, 2, 2],
    ]
    assert sorted(p for share in shares for p in share) == sorted(files)
    shuffled = files[:]
    random.Random(7).shuffle(shuffled)
    for i, share in enumerate(shares, start=1):
        assert sorted(pick_shard(shuffled, f"{i}/3")) == sorted(share)
    assert pick_shard(files, None) == files


def test_a_school_stays_in_its_share_whatever_else_is_given(tmp_path: Path) -> None:
    files = school_files(tmp_path, [100004, 123456, 140001, 100002])
    for n in (1, 2, 5, 7):
        for path in files:
            alone = [i for i in range(1, n + 1) if pick_shard([path], f"{i}/{n}")]
            among = [i for i in range(1, n + 1) if path in pick_shard(files, f"{i}/{n}")]
            assert alone == among and len(alone) == 1


def test_a_file_whose_urn_cannot_be_read_falls_in_share_1_only(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    broken = tmp_path / "broken.yaml"
    broken.write_text("school: {name: Elm, urn: [\n", encoding="utf-8")
    text = school_files(tmp_path, ["'100002'"])  # a quoted URN is text, not a URN
    files = [missing, broken, *text]
    assert pick_shard(files, "1/4") == files
    assert all(pick_shard(files, f"{i}/4") == [] for i in (2, 3, 4))


def test_a_share_with_no_school_exits_0_and_says_so(tmp_path: Path) -> None:
    [file] = school_files(tmp_path, [100001])  # 100001 % 2 == 1: share 2 of 2
    result = bromsync("run", str(file), "--shard", "1/2")
    assert result.exit_code == 0, result.output
    assert "share 1/2: no school of the 1 school file given falls in it" in result.output


def test_five_schools_one_unset_password_and_one_typo_the_other_three_sync(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROMCOM_PASSWORD_ASH", "fixture-password")
    monkeypatch.setenv("BROMCOM_PASSWORD_BIRCH", "fixture-password")
    monkeypatch.setenv("BROMCOM_PASSWORD_CEDAR", "fixture-password")
    monkeypatch.delenv("BROMCOM_PASSWORD_DOVE", raising=False)
    ash = other_school(stack, "Ash Primary School", 100002, 5002, "BROMCOM_PASSWORD_ASH")
    birch = other_school(stack, "Birch Primary School", 100003, 5003, "BROMCOM_PASSWORD_BIRCH")
    dove = other_school(stack, "Dove Primary School", 100004, 5004, "BROMCOM_PASSWORD_DOVE")
    cedar = other_school(stack, "Cedar Primary School", 100005, 5005, "BROMCOM_PASSWORD_CEDAR")
    cedar.write_text(
        cedar.read_text(encoding="utf-8").replace("year_codes:", "year_cods:"), encoding="utf-8"
    )
    files = [stack.school_file, ash, dove, cedar, birch]

    result = bromsync("run", *map(str, files), "--jobs", "2")

    assert result.exit_code == 2, result.output  # 2 outranks the others' 3 (1007 held back)
    for site in (SITE_ID, 5002, 5003):
        assert len(stack.parentpay.people(site)) == 12
    assert stack.parentpay.people(5004) == [] and stack.parentpay.people(5005) == []
    lines = result.output.splitlines()
    [dove_line] = [line for line in lines if "Dove Primary School" in line]
    assert dove_line.startswith("✘ Dove Primary School (100004): not run: ")
    assert "BROMCOM_PASSWORD_DOVE is not set" in dove_line
    [cedar_line] = [line for line in lines if line.startswith("✘ Cedar Primary School")]
    assert f"the school file {cedar} has" in cedar_line
    assert f"{cedar}:4:" in result.output and "year_cods" in result.output
    assert "bromsync validate" in result.output
    # One line per school, printed as each finishes (with --jobs 2, not in the order given).
    heads = [line.split(" (")[0] for line in lines if line[:2] in ("✔ ", "! ", "✘ ")]
    assert sorted(heads) == sorted([
        "! Oakfield Primary School",
        "! Ash Primary School",
        "✘ Dove Primary School",
        "✘ Cedar Primary School",
        "! Birch Primary School",
    ])  # fmt: skip
    # Each school that synced names the pupil its checks held back, the check and the fix.
    for name in ("Oakfield", "Ash", "Birch"):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"! {name} "))
        block = "\n".join(lines[at + 1 : at + 12])
        assert "held back by year_code_not_parentpay (1 pupil)" in block
        assert "1007 Zoë Chen (year Year 1, 1L)" in block and "fix: In Bromcom" in block
    assert "5 schools: 0 ok, 3 need attention, 2 failed in " in result.output
    # The school whose file loaded has its failure in its state, for `status` and analysts.
    runs = bromsync("sql", str(dove), "SELECT status, message FROM runs")
    assert "failed" in runs.output and "BROMCOM_PASSWORD_DOVE" in runs.output


def test_a_problem_common_to_all_stops_before_any_school_runs(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BROMSYNC_PARENTPAY_TOKEN")
    bad = tmp_path / "bad.yaml"
    bad.write_text("school: {name: Elm Primary School}\n", encoding="utf-8")
    result = bromsync("run", str(stack.school_file), str(bad))
    assert result.exit_code == 2, result.output
    assert "nothing was run" in result.output and "BROMSYNC_PARENTPAY_TOKEN" in result.output
    assert "Elm Primary School: not run: the school file" in result.output  # named as well
    assert not stack.bromcom.requests and stack.parentpay.people(SITE_ID) == []


def test_plan_offline_needs_no_parentpay_and_still_fails_a_bad_school_alone(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BROMSYNC_PARENTPAY_TOKEN")
    bad = tmp_path / "bad.yaml"
    bad.write_text("not: [a school file\n", encoding="utf-8")
    result = bromsync(
        "plan", str(bad), str(stack.school_file), "--offline", "--out", str(stack.plans)
    )
    assert result.exit_code == 2, result.output
    assert (stack.plans / "100001.plan.json").exists()
    assert f"✘ {bad}: not run: the school file {bad} has 1 problem to fix" in result.output


def test_one_school_alone_is_not_told_about_other_schools(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BROMCOM_PASSWORD_OAKFIELD")
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        "✘ Oakfield Primary School (100001): not run: the environment variable "
        "BROMCOM_PASSWORD_OAKFIELD is not set"
    )
    assert "run this school again." in result.output and "other schools" not in result.output
    assert not stack.bromcom.requests
