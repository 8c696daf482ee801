import os
import stat

import pytest

from txpredict._io import atomic_directory, write_text_atomic


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
