import numpy as np
import pytest
import skops.io as sio

import txpredict as tp
from txpredict.errors import TxpredictError


@pytest.fixture(scope="module")
def cohort():
    return tp.make_synthetic_cohort(30, grid="fsl6", random_state=0)


@pytest.mark.parametrize("features", ["roi", "wholebrain", "roi+demographics"])
def test_round_trip_predicts_the_same(cohort, tmp_path, features):
    model = tp.ResponseClassifier(features).fit(cohort.X, cohort.y)
    tp.save_model(model, tmp_path / "model.skops")
    loaded, provenance = tp.load_model(tmp_path / "model.skops")
    np.testing.assert_array_equal(
        loaded.predict_proba(cohort.X), model.predict_proba(cohort.X)
    )
    assert provenance["training_hash"] == model.training_hash_
    assert provenance["scikit-learn"] and provenance["txpredict"]


def test_training_hash_identifies_the_cohort(cohort):
    a = tp.ResponseClassifier("demographics", param_grid={}).fit(cohort.X, cohort.y)
    b = tp.ResponseClassifier("demographics", param_grid={}).fit(
        cohort.X.iloc[1:], cohort.y.iloc[1:]
    )
    assert a.training_hash_ != b.training_hash_


def test_untrusted_types_are_refused_by_name(tmp_path):
    sio.dump(
        {"model": print, "provenance": {"format": "txpredict.model/1"}},
        tmp_path / "evil.skops",
    )
    with pytest.raises(TxpredictError, match=r"does not trust: \['builtins.print'\]"):
        tp.load_model(tmp_path / "evil.skops")


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.skops").write_text("hello")
    with pytest.raises(TxpredictError, match="not a readable txpredict model file"):
        tp.load_model(tmp_path / "x.skops")
    sio.dump({"something": 1}, tmp_path / "other.skops")
    with pytest.raises(TxpredictError, match="not a txpredict model file"):
        tp.load_model(tmp_path / "other.skops")
