"""engine/files.py: folders 0700 and files 0600, whatever the umask they are made under."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.files import private_dir, restrict_umask, tighten, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual 022, under which a plain mkdir or open gives everyone read access."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_private_dir_makes_every_missing_folder_0700(tmp_path: Path, loose_umask: None) -> None:
    target = tmp_path / "a" / "b" / "c"
    assert private_dir(target) == target
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3


def test_private_dir_leaves_an_existing_folder_as_it_is(tmp_path: Path, loose_umask: None) -> None:
    mine = tmp_path / "out"
    mine.mkdir(mode=0o755)
    private_dir(mine / "plans")
    assert mode(mine) == 0o755 and mode(mine / "plans") == 0o700


def test_write_private_writes_0600_and_replaces_an_open_file(
    tmp_path: Path, loose_umask: None
) -> None:
    path = tmp_path / "new" / "100001.plan.json"
    write_private(path, "Siân\n")
    assert path.read_bytes() == "Siân\n".encode() and mode(path) == 0o600
    assert mode(path.parent) == 0o700

    old = tmp_path / "old.md"
    old.write_text("from an older bromsync")
    os.chmod(old, 0o644)
    write_private(old, b"\xef\xbb\xbfnew", encoding="ignored for bytes")
    assert old.read_bytes() == b"\xef\xbb\xbfnew" and mode(old) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_write_private_encodes_text_as_asked_without_newline_translation(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    write_private(path, "a,b\r\nSiân,1\r\n", encoding="utf-8-sig")
    assert path.read_bytes() == b"\xef\xbb\xbfa,b\r\nSi\xc3\xa2n,1\r\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "kept.txt"
    path.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_private(path, "\udc00", encoding="utf-8")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]


def test_tighten_takes_group_and_other_access_away(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    path.write_text("")
    os.chmod(path, 0o664)
    tighten(path, 0o600)
    assert mode(path) == 0o600
    os.chmod(path, 0o400)  # already private: left as the owner set it
    tighten(path, 0o600)
    assert mode(path) == 0o400
    tighten(tmp_path / "absent", 0o600)  # nothing to do


def test_restrict_umask_adds_077_to_the_umask(tmp_path: Path, loose_umask: None) -> None:
    restrict_umask()
    try:
        (tmp_path / "made-by-a-library").write_text("x")
        (tmp_path / "folder").mkdir()
        assert mode(tmp_path / "made-by-a-library") == 0o600
        assert mode(tmp_path / "folder") == 0o700
        assert os.umask(0o022) == 0o077
        os.umask(0o222)
        restrict_umask()  # keeps what the umask already withheld
        assert os.umask(0o022) == 0o277
    finally:
        os.umask(0o022)
