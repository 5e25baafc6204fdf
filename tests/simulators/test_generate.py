"""`bromsync simulate generate` (simulators/generate.py): a newcomer's own school, served and synced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bromsync import cli
from simulators.bromcom import BromcomSimulator
from simulators.parentpay import ParentPaySimulator


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROMSYNC_TODAY", "2026-11-28")


def test_generate_writes_the_account_given_and_a_school_file(tmp_path: Path) -> None:
    data, school = tmp_path / "bromcom", tmp_path / "schools" / "elm.yaml"
    result = bromsync(
        "simulate", "generate", "--data", str(data), "--size", "tiny", "--seed", "7",
        "--org-id", "20002", "--username", "pp_elm", "--password", "elm-pass", "--urn", "123456",
        "--name", "Elm Primary School", "--school-file", str(school), "--site-id", "5002",
        "--port", "8611",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    account = json.loads((data / "20002" / "account.json").read_text(encoding="utf-8"))
    assert (account["username"], account["password"]) == ("pp_elm", "elm-pass")
    assert "Elm Primary School (tiny, seed 7, as of 2026-11-28): 12 pupils" in result.output
    assert f"bromsync simulate bromcom --data {data} --port 8611" in result.output
    assert "export BROMCOM_PASSWORD_20002=elm-pass" in result.output
    text = school.read_text(encoding="utf-8")
    assert "elm-pass" not in text and "password_env: BROMCOM_PASSWORD_20002" in text
    assert "urn: 123456" in text and "parentpay_site_id: 5002" in text and ":8611/" in text
    assert bromsync("validate", str(school)).exit_code == 0


def test_same_seed_same_school_and_each_org_id_its_own_account(tmp_path: Path) -> None:
    for org_id in ("20001", "20002"):
        assert bromsync(
            "simulate", "generate", "--data", str(tmp_path / org_id), "--size", "tiny",
            "--org-id", org_id,
        ).exit_code == 0  # fmt: skip
        assert bromsync(
            "simulate", "generate", "--data", str(tmp_path / "both"), "--size", "tiny",
            "--org-id", org_id, "--seed", org_id,
        ).exit_code == 0  # fmt: skip
    first, second = (tmp_path / o / o / "Students.json" for o in ("20001", "20002"))
    assert first.read_bytes() == second.read_bytes()  # the seed decides the data, not the OrgID
    users = {
        json.loads((tmp_path / "both" / o / "account.json").read_text())["username"]
        for o in ("20001", "20002")
    }
    assert users == {"parentpay_20001", "parentpay_20002"}


def test_generate_refuses_an_org_id_already_in_the_folder(tmp_path: Path) -> None:
    args = ("simulate", "generate", "--data", str(tmp_path), "--size", "tiny")
    assert bromsync(*args).exit_code == 0
    before = (tmp_path / "20001" / "Students.json").read_bytes()
    again = bromsync(*args, "--seed", "9")
    assert again.exit_code == 2
    assert f"{tmp_path / '20001'} already holds a school: give another --org-id" in again.output
    assert (tmp_path / "20001" / "Students.json").read_bytes() == before


def test_a_generated_school_syncs_through_both_simulators_without_a_site_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "bromcom"
    data.mkdir()
    with (
        BromcomSimulator(data) as bromcom,
        ParentPaySimulator(tmp_path / "pp", "tok", any_site=True) as parentpay,
    ):
        school = tmp_path / "school.yaml"
        result = bromsync(
            "simulate", "generate", "--data", str(data), "--size", "tiny", "--org-id", "20007",
            "--school-file", str(school), "--site-id", "7007", "--port", str(bromcom.port),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        monkeypatch.setenv("BROMCOM_PASSWORD_20007", "simulator-password")
        monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", parentpay.url)
        monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", "tok")
        monkeypatch.setenv("BROMSYNC_STATE_DIR", str(tmp_path / "state"))
        monkeypatch.chdir(tmp_path)  # run writes its plans and results to ./plans
        run = bromsync("run", str(school))
        assert run.exit_code in (0, 3), run.output
        assert "applied" in run.output
        assert parentpay.sites == [7007] and len(parentpay.people(7007, type="pupil")) == 12
