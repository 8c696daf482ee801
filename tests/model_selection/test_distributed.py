import joblib
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
