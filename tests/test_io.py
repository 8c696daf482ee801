import os
import stat

import pytest

from txpredict._io import (
    atomic_directory,
    check_output_folder,
    write_text_atomic,
    written_by_txpredict,
)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_outputs_get_ordinary_permissions(tmp_path, umask_022):
    """Results are readable by colleagues, as plain open()/mkdir would make them."""
    write_text_atomic(tmp_path / "a.txt", "x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    with atomic_directory(tmp_path / "out") as tmp:
        (tmp / "b.txt").write_text("y")
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_failed_atomic_directory_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "out") as tmp:
        (tmp / "half.txt").write_text("z")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def _publish(folder, files, **kwargs):
    with atomic_directory(folder, **kwargs) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)


def test_overwrite_never_deletes_what_txpredict_did_not_write(tmp_path):
    """The data-loss case: overwrite=True used to replace the whole folder."""
    out = tmp_path / "results"
    _publish(out, {"summary.csv": "old", "sub/old_map.nii": "stale"})
    (out / "my_notes.txt").write_text("precious")
    (out / "figures").mkdir()
    (out / "figures" / "mine.png").write_text("mine too")
    messages = []
    _publish(out, {"summary.csv": "new"}, overwrite=True, report=messages.append)
    assert (out / "summary.csv").read_text() == "new"
    assert (out / "my_notes.txt").read_text() == "precious"
    assert (out / "figures" / "mine.png").read_text() == "mine too"
    # A file of the earlier run that this run does not write goes, with its folder.
    assert not (out / "sub").exists()
    (message,) = messages
    assert "replaced 1 file(s)" in message and "removed 1" in message
    assert "sub/old_map.nii" in message
    assert "kept 2 it did not write (figures/mine.png, my_notes.txt)" in message
    assert written_by_txpredict(out) == {"summary.csv"}


def test_a_users_file_in_the_way_is_refused_and_nothing_moves(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "summary.csv").write_text("the user's own table")
    with pytest.raises(FileExistsError, match=r"\['summary.csv'\].*did not"):
        _publish(out, {"summary.csv": "new", "other.csv": "x"}, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]
    assert (out / "summary.csv").read_text() == "the user's own table"
    assert [p.name for p in tmp_path.iterdir()] == ["results"]  # no temporary left
    # The same check, before any work is done, for callers that know their files.
    with pytest.raises(FileExistsError, match="summary.csv"):
        check_output_folder(out, overwrite=True, will_write=["summary.csv"])
    check_output_folder(out, overwrite=True, will_write=["other.csv"])


def test_non_empty_folder_needs_overwrite_and_names_the_option(tmp_path):
    out = tmp_path / "results"
    _publish(out, {"a.csv": "1"})
    with pytest.raises(FileExistsError, match="set --overwrite"):
        check_output_folder(out, overwrite=False, option="--overwrite")
    with pytest.raises(FileExistsError, match="not empty"):
        _publish(out, {"a.csv": "2"})
    assert (out / "a.csv").read_text() == "1"
    # An empty folder (or one holding only our manifest) is simply used.
    empty = tmp_path / "empty"
    empty.mkdir()
    _publish(empty, {"b.csv": "1"})
    assert (empty / "b.csv").read_text() == "1"
