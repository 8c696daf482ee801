"""ComBat and confound regression: equal to references, learnt on training rows."""

import copy

import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError

FEATURES = [f"f{i}" for i in range(40)]


def _sites(rng, n=(40, 30, 20)):
    site = np.repeat(["a", "b", "c"], n)
    total = sum(n)
    age = rng.uniform(20, 60, total)
    sex = rng.choice(["F", "M"], total)
    data = rng.normal(size=(total, len(FEATURES))) + 0.05 * age[:, None]
    data += (sex == "M")[:, None] * 0.5
    data[site == "b"] = data[site == "b"] * 1.5 + 2.0  # scanner: scale and shift
    data[site == "c"] -= 1.0
    table = pd.DataFrame(data, columns=FEATURES)
    return table.assign(site=site, age=age, sex=sex)


@pytest.mark.parametrize("empirical_bayes", [True, False])
def test_combat_equals_the_reference_implementation(rng, empirical_bayes):
    """neuroCombat (Fortin et al. 2018), with categorical and continuous covariates."""
    from neuroCombat import neuroCombat

    X = _sites(rng)
    reference = neuroCombat(
        dat=X[FEATURES].to_numpy().T,
        covars=X[["site", "age", "sex"]],
        batch_col="site",
        categorical_cols=["sex"],
        continuous_cols=["age"],
        eb=empirical_bayes,
    )["data"].T
    ours = tp.ComBat(
        FEATURES, covariates=["age", "sex"], empirical_bayes=empirical_bayes
    ).fit_transform(X)
    # neuroCombat casts continuous covariates to float32: agreement to ~1e-7.
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)


def test_combat_learns_only_from_the_rows_it_is_fitted_on(rng):
    """Fitted on training rows, ComBat maps each test row by itself: a transform
    that re-estimated site effects from the rows it is given (a leak from the
    test fold) would map a row differently beside other rows."""
    X = _sites(rng)
    train, test = X.iloc[::2], X.iloc[1::2]
    combat = tp.ComBat(FEATURES, covariates=["age"]).fit(train)
    fitted = {k: copy.deepcopy(v) for k, v in vars(combat).items() if k.endswith("_")}
    together = combat.transform(test)
    one_by_one = np.vstack([combat.transform(test.iloc[[i]]) for i in range(len(test))])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-10)
    # The same rows beside test rows shifted and scaled: mapped the same way.
    altered = test.copy()
    altered[FEATURES] = altered[FEATURES] * 10 + 7
    mixed = pd.concat([test.iloc[:5], altered.iloc[5:]])
    np.testing.assert_allclose(combat.transform(mixed)[:5], together[:5], rtol=1e-10)
    # Transforming never changes what was learnt.
    for name, value in fitted.items():
        np.testing.assert_array_equal(getattr(combat, name), value)
    # Training rows do matter: other training rows, other estimates.
    other = tp.ComBat(FEATURES, covariates=["age"]).fit(X.iloc[1::2])
    assert not np.allclose(other.gamma_, combat.gamma_)


def test_unseen_sites_are_estimated_from_their_own_images_or_refused(rng):
    X = _sites(rng)
    seen, new = X[X["site"] != "b"], X[X["site"] == "b"]
    combat = tp.ComBat(FEATURES).fit(seen)
    harmonised = combat.transform(new)
    # Site b's scanner (x1.5, +2) is removed: its features look like the others'.
    assert abs(harmonised.mean() - combat.transform(seen).mean()) < 0.3
    assert harmonised.std() / combat.transform(seen).std() == pytest.approx(1, abs=0.2)
    with pytest.raises(TxpredictError, match=r"site 'b'.*only 1 of its patients"):
        combat.transform(new.iloc[:1])
    refusing = tp.ComBat(FEATURES, unseen_sites="refuse").fit(seen)
    with pytest.raises(TxpredictError, match=r"site 'b' was not in the training"):
        refusing.transform(new)


def test_combat_errors_name_the_site_or_column(rng):
    X = _sites(rng)
    one = pd.concat([X[X["site"] != "c"], X[X["site"] == "c"].iloc[:1]])
    with pytest.raises(TxpredictError, match=r"\{'c': 1\}.*min_site_size=2"):
        tp.ComBat(FEATURES).fit(one)
    with pytest.raises(TxpredictError, match=r"\['scanner'\] are not in X"):
        tp.ComBat(FEATURES, site="scanner").fit(X)
    gaps = X.copy()
    gaps.iloc[3, 0] = np.nan
    with pytest.raises(TxpredictError, match="missing or infinite"):
        tp.ComBat(FEATURES).fit(gaps)


def test_confound_remover_fits_on_training_rows_and_removes_the_confound(rng):
    X = _sites(rng)
    train, test = X.iloc[::2], X.iloc[1::2]
    remover = tp.ConfoundRemover(FEATURES[:3], confounds=["age", "site"]).fit(train)
    residuals = remover.transform(train)
    for column in range(3):
        assert abs(np.corrcoef(residuals[:, column], train["age"])[0, 1]) < 1e-8
    # Test rows get the training coefficients (not their own fit).
    expected = test[FEATURES[:3]].to_numpy() - remover._design(test)[:, 1:] @ (
        remover.coef_
    )
    np.testing.assert_allclose(remover.transform(test), expected)
    with pytest.raises(TxpredictError, match=r"\['motion'\] are not in X"):
        tp.ConfoundRemover(FEATURES, confounds=["motion"]).fit(X)
    with pytest.raises(TxpredictError, match=r"\['site'\] take a single value"):
        tp.ConfoundRemover(FEATURES, confounds=["site"]).fit(X[X["site"] == "a"])


def test_confounds_with_gaps_take_the_training_median(rng):
    X = _sites(rng)
    train, test = X.iloc[::2].copy(), X.iloc[1::2].copy()
    train.iloc[[0, 4], train.columns.get_loc("age")] = np.nan
    remover = tp.ConfoundRemover(FEATURES[:3], confounds=["age"]).fit(train)
    median = train["age"].median()  # of the training rows with an age
    gap = test.copy()
    gap.iloc[2, gap.columns.get_loc("age")] = np.nan
    filled = gap.copy()
    filled.iloc[2, filled.columns.get_loc("age")] = median
    np.testing.assert_allclose(remover.transform(gap), remover.transform(filled))
    assert np.isfinite(remover.transform(train)).all()


def test_one_training_site_aligns_a_new_site_to_it(rng):
    """Leave-site-out with two sites trains on one: its gamma is 0 (the reference
    divides by it in its stopping rule); the new site is still aligned."""
    X = _sites(rng)
    one, new = X[X["site"] == "a"], X[X["site"] == "b"]
    combat = tp.ComBat(FEATURES).fit(one)  # filterwarnings=error: no 0-division
    np.testing.assert_allclose(combat.gamma_, 0, atol=1e-10)
    kept = combat.transform(one)
    # Nothing to align among the training patients: their features barely move.
    np.testing.assert_allclose(
        kept, one[FEATURES], atol=0.1 * one[FEATURES].std().max()
    )
    moved = combat.transform(new)
    assert abs(moved.mean() - kept.mean()) < 0.3  # b's scanner offset (+2) is gone


def test_a_missing_site_is_named_in_fit_and_transform(rng):
    table = _sites(rng).set_axis([f"sub-{i:02d}" for i in range(90)])
    with_gap = table.assign(site=table["site"].where(table.index != "sub-07"))
    with pytest.raises(
        TxpredictError, match=r"missing for 1 patient\(s\): \['sub-07'\]"
    ):
        tp.ComBat(FEATURES).fit(with_gap)
    fitted = tp.ComBat(FEATURES).fit(table)
    with pytest.raises(TxpredictError, match=r"\['sub-07'\]"):
        fitted.transform(with_gap)
    # A fitted ComBat keeps plain arrays (a pandas Index cannot be saved).
    assert type(fitted.features_) is np.ndarray


def _fit_in_blocks(step, data, table, rows_data, rows_table, width):
    """A fit as the streamed route makes it: one pass over blocks of columns."""
    step.start_columns(table, rows_table)
    statistics = [
        step.column_statistics(data[:, s : s + width], rows_data[:, s : s + width])
        for s in range(0, data.shape[1], width)
    ]
    return step.finish_columns(statistics)


@pytest.mark.parametrize("empirical_bayes", [True, False])
def test_combat_fitted_in_column_blocks_equals_one_fit(rng, empirical_bayes):
    """The streamed route fits ComBat a block of voxels at a time: the pooled
    empirical-Bayes priors, the covariates and an unseen site's estimates must
    come out as from the whole array."""
    X = _sites(rng)
    train, rows = X[X["site"] != "c"].iloc[::2], X.iloc[1::2]  # c is unseen
    data, rows_data = train[FEATURES].to_numpy(), rows[FEATURES].to_numpy()
    options = {"covariates": ["age", "sex"], "empirical_bayes": empirical_bayes}
    whole = tp.ComBat(FEATURES, **options).fit_features(data, train)
    blocks = _fit_in_blocks(
        tp.ComBat(FEATURES, **options), data, train, rows_data, rows, width=7
    )
    for name in ("grand_mean_", "covariate_coef_", "var_pooled_", "gamma_", "delta_"):
        np.testing.assert_allclose(
            getattr(blocks, name), getattr(whole, name), rtol=1e-10, atol=1e-12
        )
    expected = whole.transform_features(rows_data, rows)  # c estimated here
    pieces = np.hstack(
        [
            blocks.transform_features(rows_data[:, s : s + 7], rows, slice(s, s + 7))
            for s in range(0, len(FEATURES), 7)
        ]
    )
    np.testing.assert_allclose(pieces, expected, rtol=1e-10, atol=1e-12)
    # The unseen site was estimated, not taken as zero shift: its rows move.
    unseen = (rows["site"] == "c").to_numpy()
    assert not np.allclose(pieces[unseen], rows_data[unseen], atol=0.1)
    # Without its rows at the start, a block cannot estimate it: refused.
    plain = _fit_in_blocks(
        tp.ComBat(FEATURES, **options), data, train, rows_data, train, width=7
    )
    with pytest.raises(TxpredictError, match="site 'c' was not in the training"):
        plain.transform_features(rows_data[:, :7], rows, slice(0, 7))


def test_confound_remover_fitted_in_column_blocks_equals_one_fit(rng):
    X = _sites(rng)
    data = X[FEATURES].to_numpy()
    whole = tp.ConfoundRemover(FEATURES, confounds=["age", "sex", "site"])
    whole.fit_features(data, X)
    blocks = _fit_in_blocks(
        tp.ConfoundRemover(FEATURES, confounds=["age", "sex", "site"]),
        data,
        X,
        data,
        X,
        width=9,
    )
    np.testing.assert_allclose(blocks.coef_, whole.coef_, rtol=1e-10)
    np.testing.assert_allclose(blocks.intercept_, whole.intercept_, rtol=1e-10)
    np.testing.assert_allclose(
        blocks.transform_features(data[:, 9:18], X, slice(9, 18)),
        whole.transform_features(data, X)[:, 9:18],
        rtol=1e-10,
    )
