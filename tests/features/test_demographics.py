import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError


@pytest.fixture
def table():
    return pd.DataFrame(
        {
            "age": [20.0, 30.0, np.nan, 60.0, 80.0],
            "sex": ["F", "M", "F", None, "M"],
            "site": [1, 2, 1, 2, 3],
            "image": ["a", "b", "c", "d", "e"],
        },
        index=pd.Index(list("abcde"), name="participant_id"),
    )


def test_statistics_come_from_fit_data_only(table):
    train, test = table.iloc[:3], table.iloc[3:]
    demo = tp.DemographicFeatures(["age"]).fit(train)
    # Training ages 20, 30 (NaN imputed with their median, 25): mean 25, sd sqrt(50/3).
    out = demo.transform(test)
    np.testing.assert_allclose(
        out[:, 0], (np.array([60.0, 80.0]) - 25) / np.sqrt(50 / 3)
    )
    np.testing.assert_allclose(demo.transform(table.iloc[[2]])[0, 0], 0.0)


def test_categorical_one_hot_and_unseen_levels(table):
    demo = tp.DemographicFeatures(["sex", "site"], categorical=["sex", "site"])
    demo.fit(table.iloc[:4])
    names = list(demo.get_feature_names_out())
    assert names == ["sex_F", "sex_M", "site_1", "site_2"]
    out = demo.transform(table.iloc[[4]])  # site 3 was never seen
    np.testing.assert_array_equal(out, [[0, 1, 0, 0]])


def test_default_columns_skip_images(table):
    demo = tp.DemographicFeatures().fit(table)
    assert demo.columns_ == ["age", "sex", "site"]
    assert demo.categorical_ == ["sex"]


def test_missing_column_names_it(table):
    with pytest.raises(TxpredictError, match=r"\['severity'\] not found"):
        tp.DemographicFeatures(["age", "severity"]).fit(table)


def test_infinite_values_are_refused(table):
    table.loc["a", "age"] = np.inf
    with pytest.raises(TxpredictError, match="'age' has infinite"):
        tp.DemographicFeatures(["age"]).fit(table)
