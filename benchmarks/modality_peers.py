"""Treatment selection next to the causal-ML library econml, on the same trials.

The trials of ``benchmarks/modality_strategies.py`` (Frick-like synthetic
trials, 9 default ROI means; training trials of n = 100, 200, 400, ``--trials``
each, scored on 2,000 independent patients whose true response probability
under each arm is known): txpredict's ``ModalitySelector`` (its three
strategies, default tuning) next to econml 0.17's T-learner and X-learner
(L2 logistic outcome models, C chosen by inner 5-fold log-loss, as
probabilities), its
DR-learner (the same outcome models, known 50:50 randomisation estimated by a
logistic propensity model, linear final stage) and its causal forest
(``CausalForestDML``, discrete treatment and outcome). Each recommends SSRI +
CBT where its estimated effect (or PAI) is positive. Reported: agreement with
the truly better arm and the true policy value (mean, SD across trials), the
median wall time of one fit, and, paired by trial, each txpredict strategy's
agreement minus that of the best econml learner at that n (mean and its
standard error across trials). econml is a benchmark dependency only
(``pip install -e ".[benchmarks]"``), never a run-time one.

Usage: ``python benchmarks/modality_peers.py [--quick] [--trials 20]``
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

import txpredict as tp
from _common import write_result
from calibration import ARMS, ROI
from modality_strategies import (
    TRUE,
    _score,
    _selector,
    run_trials,
    trial_info,
    trial_study,
)

C_GRID = [1e-3, 1e-2, 1e-1, 1.0, 10.0]


def _outcome_model():
    """L2 logistic regression as econml's metalearners take it.

    A regressor of E[Y]: ``predict`` gives the probability; C is chosen by the
    inner log-loss.
    """
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    class ProbabilityRegressor(RegressorMixin, BaseEstimator):
        def fit(self, X, y, sample_weight=None):
            self.model_ = make_pipeline(
                StandardScaler(),
                LogisticRegressionCV(
                    Cs=C_GRID, cv=5, scoring="neg_log_loss", max_iter=5000
                ),
            ).fit(X, np.asarray(y).astype(int))
            return self

        def predict(self, X):
            return self.model_.predict_proba(X)[:, 1]

    return ProbabilityRegressor()


def _econml_learners(seed):
    from econml.dml import CausalForestDML
    from econml.dr import DRLearner
    from econml.metalearners import TLearner, XLearner
    from sklearn.linear_model import LogisticRegression, RidgeCV

    return {
        "econml_t_learner": TLearner(models=_outcome_model()),
        "econml_x_learner": XLearner(
            models=_outcome_model(),
            cate_models=RidgeCV(alphas=np.logspace(-2, 3, 11)),
            propensity_model=LogisticRegression(),
        ),
        "econml_dr_learner": DRLearner(
            model_propensity=LogisticRegression(),
            model_regression=_outcome_model(),
            cv=5,
            random_state=seed,
        ),
        "econml_causal_forest": CausalForestDML(
            model_y=LogisticRegression(max_iter=5000),
            model_t=LogisticRegression(),
            discrete_treatment=True,
            discrete_outcome=True,
            cv=5,
            random_state=seed,
        ),
    }


def _row(name, n, agreement, value, seconds, share_ssri, seed):
    return {
        "trial": seed,
        "method": name,
        "n": n,
        "agreement": agreement,
        "policy_value": value,
        "fit_seconds": seconds,
        "share_recommended_ssri": share_ssri,
    }


def trial(pool, test, n, seed):
    rng = np.random.default_rng(seed)
    train = pool.iloc[rng.choice(len(pool), n, replace=False)].reset_index(drop=True)
    rows = []
    for strategy in ("interaction", "t_learner", "x_learner"):
        start = time.perf_counter()
        selector = _selector(strategy=strategy).fit(
            train, train["y"], treatment="treatment"
        )
        seconds = time.perf_counter() - start
        agreement, value = _score(selector, test)
        share = float((selector.recommend(test) == ARMS[1]).mean())
        rows.append(
            _row(f"txpredict_{strategy}", n, agreement, value, seconds, share, seed)
        )
    X, X_test = train[ROI].to_numpy(), test[ROI].to_numpy()
    T = (train["treatment"] == ARMS[1]).to_numpy().astype(int)
    Y = train["y"].to_numpy()
    true = test[TRUE].to_numpy()
    better = true.argmax(axis=1)
    for name, learner in _econml_learners(seed % 2**31).items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # econml's own deprecation notes
            learner.fit(Y, T, X=X)
            effect = np.asarray(learner.effect(X_test)).ravel()
        seconds = time.perf_counter() - start
        chosen = (effect > 0).astype(int)
        rows.append(
            _row(
                name,
                n,
                float((chosen == better).mean()),
                float(true[np.arange(len(test)), chosen].mean()),
                seconds,
                float(chosen.mean()),
                seed,
            )
        )
    return rows


def paired_with_best_peer(raw, summary) -> pd.DataFrame:
    """Each txpredict strategy's agreement minus the best econml learner's.

    Paired by training trial (the same patients for every method); the best
    peer is the econml learner with the highest mean agreement at that n.
    """
    wide = raw.pivot_table(index=["n", "trial"], columns="method", values="agreement")
    out = []
    for n, at_n in summary.groupby("n"):
        peers = at_n[at_n["method"].str.startswith("econml_")]
        best = peers.loc[peers["agreement"].idxmax(), "method"]
        trials = wide.loc[n]
        for method in at_n["method"][at_n["method"].str.startswith("txpredict_")]:
            difference = trials[method] - trials[best]
            out.append(
                {
                    "n": n,
                    "method": method,
                    "best_econml": best,
                    "difference": float(difference.mean()),
                    "se": float(difference.std() / np.sqrt(len(difference))),
                }
            )
    return pd.DataFrame(out)


def main(argv=None):
    start = time.perf_counter()
    # The populations and trials of benchmarks/modality_strategies.py (same seeds).
    args, sizes, pool, test = trial_study(__doc__.splitlines()[0], argv)
    raw = run_trials(trial, pool, test, sizes, args)
    summary = (
        raw.groupby(["method", "n"], sort=False)
        .agg(
            agreement=("agreement", "mean"),
            agreement_sd=("agreement", "std"),
            policy_value=("policy_value", "mean"),
            policy_value_sd=("policy_value", "std"),
            most_one_sided=("share_recommended_ssri", lambda s: (s - 0.5).abs().max()),
            fit_seconds=("fit_seconds", "median"),
        )
        .reset_index()
    )
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string(index=False))
    paired = paired_with_best_peer(raw, summary)
    print(paired.round(4).to_string(index=False))
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s")
    if args.quick:
        return
    from importlib.metadata import version

    payload = {
        "summary": summary.to_dict(orient="records"),
        "paired_with_best_econml": paired.to_dict(orient="records"),
        "oracle_policy_value": float(test[TRUE].max(axis=1).mean()),
        "info": {
            **trial_info(args, sizes, wall),
            "econml": version("econml"),
            "txpredict": tp.__version__,
        },
    }
    print(f"wrote {write_result('modality_peers', payload)}")


if __name__ == "__main__":
    main()
