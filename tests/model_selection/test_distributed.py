import joblib
import numpy as np
import pandas as pd
import pytest

import txpredict as tp

distributed = pytest.importorskip("distributed")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning:distributed")
def test_dask_backend_gives_the_same_result(small_cohort):
    model = tp.ResponseClassifier("roi", "linear_svm", param_grid={"C": [0.1, 1.0]})
    local = tp.nested_cross_validate(
        model, small_cohort.X, small_cohort.y, outer_cv=3, n_repeats=2, n_jobs=1
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_config(backend="dask"):
            remote = tp.nested_cross_validate(
                model, small_cohort.X, small_cohort.y, outer_cv=3, n_repeats=2, n_jobs=2
            )
            permutation = tp.permutation_test(
                model,
                small_cohort.X,
                small_cohort.y,
                outer_cv=3,
                n_permutations=4,
                n_jobs=2,
            )
    pd.testing.assert_frame_equal(local.predictions, remote.predictions)
    reference = tp.permutation_test(
        model, small_cohort.X, small_cohort.y, outer_cv=3, n_permutations=4, n_jobs=1
    )
    assert list(permutation.null_distribution) == list(reference.null_distribution)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning:distributed")
def test_dask_workers_fill_the_store_and_run_the_folds(small_cohort, tmp_path):
    # Each worker reads its own images and writes its rows into the store;
    # folds and permutations spread over the workers; the same results as a
    # local run with the design in memory.
    options = {"outer_cv": 3, "n_repeats": 2, "return_maps": True}
    options |= {"n_permutations": 5, "n_exceedances": None}
    grid = {"C": [1e-3, 1.0]}
    local = tp.nested_cross_validate(
        tp.ResponseClassifier("wholebrain", "linear_svm", param_grid=grid),
        small_cohort.X,
        small_cohort.y,
        **options,
        on_disk=False,
        n_jobs=1,
    )
    model = tp.ResponseClassifier(
        "wholebrain", "linear_svm", param_grid=grid, memory=tmp_path, n_jobs=2
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with (
            joblib.parallel_config(backend="dask"),
            distributed.get_task_stream(client) as stream,
        ):
            remote = tp.nested_cross_validate(
                model, small_cohort.X, small_cohort.y, **options, on_disk=True, n_jobs=2
            )
        # The extraction ran on both workers, which wrote the store.
        workers = {t["worker"] for t in stream.data if "_store_rows" in str(t["key"])}
        assert len(workers) == 2, [t["key"] for t in stream.data][:5]
    pd.testing.assert_frame_equal(local.predictions, remote.predictions, rtol=1e-6)
    scale = abs(local.maps.weights).max()
    assert abs(local.maps.weights - remote.maps.weights).max() <= 1e-6 * scale
    for metric, test in local.permutation.items():
        assert list(remote.permutation[metric].null_distribution) == pytest.approx(
            list(test.null_distribution)
        )


def _die_once(marker):
    """On a worker: its next row-writing task kills it, once for all workers."""
    import os

    from txpredict.features import _extract

    real = _extract._store_rows

    def dying(*args, **kwargs):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return real(*args, **kwargs)
        os.close(fd)
        os._exit(1)  # the worker process dies mid-task

    _extract._store_rows = dying


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning:distributed")
def test_a_worker_that_dies_while_writing_the_store_is_replaced(small_cohort, tmp_path):
    model = tp.ResponseClassifier("wholebrain", memory=tmp_path / "cache", n_jobs=2)
    extractor = model.make_extractor().fit(small_cohort.X)
    expected = extractor.transform(small_cohort.X)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(_die_once, str(tmp_path / "died"))
        with joblib.parallel_config(backend="dask"):
            store = extractor.transform_to_store(small_cohort.X, tmp_path / "cache")
    assert (tmp_path / "died").exists()  # a worker did die
    assert store.complete
    np.testing.assert_array_equal(store.rows(np.arange(len(small_cohort.X))), expected)
