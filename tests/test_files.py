"""files.py: whole-or-nothing writes, and no write ever goes through a planted link."""
import os

import pytest

from d2lnets.files import check_writable, new_file, open_no_follow, write_atomically


def test_write_atomically_replaces_a_planted_link_instead_of_writing_through_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "out.json").symlink_to(victim)
    write_atomically(tmp_path / "out.json", lambda f: f.write(b"new"))
    assert victim.read_text() == "keep"
    assert not (tmp_path / "out.json").is_symlink() and (tmp_path / "out.json").read_text() == "new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        write_atomically(target, boom)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_check_writable_makes_the_folder_and_never_follows_a_link(tmp_path):
    folder = tmp_path / "a" / "b"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    check_writable(folder)
    assert folder.is_dir() and list(folder.iterdir()) == []
    (folder / ".d2lnets-write-test").symlink_to(victim)  # the old fixed probe name
    check_writable(folder)
    assert victim.read_text() == "keep"


def test_check_writable_raises_for_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError):
        check_writable(tmp_path / "f")


def test_new_file_never_opens_an_existing_name(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    for n in range(5):
        (tmp_path / f"log-{n}.txt").symlink_to(victim)
    path = new_file(tmp_path, "log-", ".txt", "traceback")
    assert path.read_text() == "traceback" and not path.is_symlink()
    assert victim.read_text() == "keep"


def test_open_no_follow_refuses_a_link(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "victim")
    with pytest.raises(OSError):
        open_no_follow(tmp_path / "link", os.O_RDWR | os.O_CREAT)
    assert not (tmp_path / "victim").exists()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_write_atomically_gives_the_mode_a_plain_open_would(tmp_path, umask):
    """mkstemp makes 0600 files: a run's answer.md and history were once
    unreadable to the user's group where plain files are not."""
    old = os.umask(umask)
    try:
        write_atomically(tmp_path / "answer.md", lambda f: f.write(b"x"))
        with open(tmp_path / "plain.md", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    mode = (tmp_path / "answer.md").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.md").stat().st_mode & 0o777 == 0o666 & ~umask
