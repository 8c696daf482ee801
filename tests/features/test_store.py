"""The on-disk voxel store: what it holds, resuming, refusing, a full disk."""

import errno
import gc
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.features import VoxelStore, _extract
from txpredict.features import _store as store_module


def _store(tmp_path, n=9, p=50, chunk=7, description=None):
    return VoxelStore.open(
        tmp_path,
        description or {"extractor": "test"},
        n_rows=n,
        n_features=p,
        chunk=chunk,
    )


def test_chunks_hold_the_design_and_its_products(tmp_path, rng):
    A = rng.normal(size=(9, 50)).astype(np.float32)
    store = _store(tmp_path)
    # Rows written out of order and in pieces, as parallel workers do.
    store.write_rows(np.array([4, 5, 6, 7, 8]), A[4:])
    store.write_rows(np.array([2, 0, 1, 3]), A[[2, 0, 1, 3]])
    store.finish()
    assert store.shape == (9, 50) and len(list(store.column_blocks())) == 8
    np.testing.assert_array_equal(store.rows(np.arange(9)), A)
    np.testing.assert_array_equal(
        store.take_columns([0, 6, 7, 49]), A[:, [0, 6, 7, 49]]
    )
    wide = A.astype(np.float64)
    np.testing.assert_allclose(store.gram(), wide @ wide.T, rtol=1e-12)
    C = rng.normal(size=(3, 9))
    np.testing.assert_allclose(C @ store, C.astype(np.float32) @ A, rtol=1e-5)


def test_a_store_is_read_only_when_complete(tmp_path):
    store = _store(tmp_path)
    store.write_rows(np.arange(3), np.ones((3, 50)))
    with pytest.raises(TxpredictError, match="misses 6 rows"):
        store.finish()
    with pytest.raises(TxpredictError, match="not complete"):
        store.gram()


def test_a_store_holding_something_else_is_refused_by_name(tmp_path):
    store = _store(tmp_path, description={"extractor": "abc", "grid": [1, 2]})
    meta = json.loads((store.folder / "store.json").read_text())
    meta["description"]["grid"] = [9, 9]  # e.g. a store copied in by hand
    (store.folder / "store.json").write_text(json.dumps(meta))
    with pytest.raises(TxpredictError, match=r"grid differ.*stored \[9, 9\]"):
        _store(tmp_path, description={"extractor": "abc", "grid": [1, 2]})


def test_a_full_disk_at_creation_leaves_nothing(tmp_path, monkeypatch):
    def full(fd, offset, size):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(TxpredictError, match="No space left.*needs 0.00 GB"):
        _store(tmp_path)
    assert list((tmp_path / "txpredict_store").iterdir()) == []


def _counting_loads(monkeypatch):
    loads = []
    real = _extract.load_image
    monkeypatch.setattr(
        _extract, "load_image", lambda image, *a: loads.append(image) or real(image, *a)
    )
    return loads


def test_extraction_resumes_after_a_full_disk(small_cohort, tmp_path, monkeypatch):
    X = small_cohort.X
    extractor = tp.WholeBrainFeatures(verbose=0).fit(X)
    expected = extractor.transform(X)
    monkeypatch.setattr(store_module, "CHUNK_BYTES", 24 * 1024)  # several chunks
    real_pwrite, calls = os.pwrite, []

    def fills_up(fd, data, offset):
        calls.append(offset)
        if len(calls) > 40:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", fills_up)
    with pytest.raises(TxpredictError, match="disk is full.*later run goes on"):
        extractor.transform_to_store(X, tmp_path)
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    (folder,) = (tmp_path / "txpredict_store").iterdir()
    partial = VoxelStore(folder)
    written = len(X) - len(partial.missing_rows())
    assert not partial.complete and 0 < written < len(X)
    loads = _counting_loads(monkeypatch)
    store = extractor.transform_to_store(X, tmp_path)
    assert len(loads) == len(X) - written  # only the missing rows were read
    assert store.complete and len(list(store.column_blocks())) > 1
    np.testing.assert_array_equal(store.rows(np.arange(len(X))), expected)
    # Complete: a third run reads no image at all.
    extractor.transform_to_store(X, tmp_path)
    assert len(loads) == len(X) - written


def test_a_changed_image_gets_a_new_store(small_cohort_dir, tmp_path, monkeypatch):
    cohort = tp.load_cohort(small_cohort_dir)
    extractor = tp.WholeBrainFeatures(verbose=0).fit(cohort.X)
    first = extractor.transform_to_store(cohort.X, tmp_path)
    image = Path(cohort.X["image"].iloc[0])
    os.utime(image, ns=(1, 1))
    second = extractor.transform_to_store(cohort.X, tmp_path)
    assert second.folder != first.folder


def test_workers_write_the_same_store(small_cohort, tmp_path):
    X = small_cohort.X
    one = tp.WholeBrainFeatures(verbose=0).fit(X).transform_to_store(X, None)
    two = tp.WholeBrainFeatures(verbose=0, n_jobs=2).fit(X).transform_to_store(X, None)
    np.testing.assert_array_equal(
        one.rows(np.arange(len(X))), two.rows(np.arange(len(X)))
    )


def test_a_scratch_store_goes_when_dropped(small_cohort):
    X = small_cohort.X
    store = tp.WholeBrainFeatures(verbose=0).fit(X).transform_to_store(X)
    folder = store.folder
    assert folder.exists()
    del store
    gc.collect()
    assert not folder.exists()


def test_a_worker_that_cannot_see_the_store_says_so(tmp_path):
    store = _store(tmp_path)
    shutil.rmtree(store.folder)  # as on a node without the shared folder
    with pytest.raises(TxpredictError, match="not visible from this worker.*memory="):
        store.write_rows(np.arange(2), np.zeros((2, 50)))


def test_a_damaged_store_is_refused(tmp_path):
    store = _store(tmp_path)
    with open(store.folder / "features.f32", "r+b") as f:
        f.truncate(100)  # e.g. a copy cut short
    with pytest.raises(TxpredictError, match="damaged: features.f32 has 100 bytes"):
        _store(tmp_path)


def test_a_store_knows_its_missing_values_without_reading_them(tmp_path, rng):
    from txpredict.model_selection._gram import any_missing

    A = rng.normal(size=(9, 50)).astype(np.float32)
    clean = _store(tmp_path / "clean")
    clean.write_rows(np.arange(9), A)
    clean.finish()
    A[6, 40] = np.nan
    holed = _store(tmp_path / "holed")
    holed.write_rows(np.arange(4), A[:4])
    holed.write_rows(np.arange(4, 9), A[4:])
    holed.finish()
    assert not clean.has_missing_values() and not any_missing(clean)
    assert holed.has_missing_values() and any_missing(holed)
    assert any_missing(A)  # the array's own check agrees
    assert len(holed.missing_rows()) == 0  # a row with a NaN is written all the same
