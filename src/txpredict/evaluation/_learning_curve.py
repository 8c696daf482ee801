"""How many patients? An empirical learning curve from the user's own pilot.

The whole nested procedure is rerun on stratified subsamples of the pilot
(by default 50% to 100% of it, five subsamples per size): the AUC and the
width of its 95% interval at each size, and, with a baseline, the AUC gain
over it. The curves are fitted to them and extrapolated, each with an
interval that combines a bootstrap of the subsamples (the curve's shape)
with the pilot's own sampling error (its level):

- the AUC as ``a - b / sqrt(n)``, the inverse-square-root learning curve
  (the gain over a baseline the same way, the difference of two such
  curves);
- the interval's half-width as a power law in n (``log w = c + d log n``;
  d is about -1/2 once the model has stopped learning).

From these: the n whose AUC interval is as narrow as asked
(:meth:`LearningCurve.n_for_half_width`), and the n at which the gain would
be detected with 80% power by txpredict's added-value test
(:meth:`LearningCurve.n_for_power`, from the gain the test detects at each n,
:func:`txpredict.stats.patients_to_detect`).

scikit-learn's :func:`sklearn.model_selection.learning_curve` trains on
subsets of each training fold and always tests on the whole test fold: it
shows how a model learns, but not how wide an estimate made from n patients
is, which is what "how many patients for an interval of +-0.05" asks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedShuffleSplit

from txpredict._inputs import check_group_labels, check_X_y
from txpredict.errors import TxpredictError
from txpredict.evaluation._compare import compare
from txpredict.model_selection import nested_cross_validate
from txpredict.stats import patients_to_detect

#: Default subsample sizes, as fractions of the pilot.
DEFAULT_FRACTIONS = (0.5, 0.625, 0.75, 0.875, 1.0)
#: Bootstrap resamples of the subsamples behind each extrapolation interval.
BOOTSTRAPS = 1000
#: The largest n an answer is searched up to; beyond it: "more than".
LARGEST_N = 100_000
#: The gain at which a larger study is searched for: below it no n is enough.
_SMALLEST_GAIN = 0.005


@dataclass
class LearningCurve:
    """The metric and its interval against n, measured on subsamples of a pilot.

    Attributes
    ----------
    points : DataFrame
        One row per subsample: ``n``, ``subsample``, ``seed`` (of its
        splits: ``nested_cross_validate(..., random_state=seed)`` on it
        reproduces the row), ``auc``, ``ci_low``, ``ci_high``,
        ``half_width``, and with a baseline ``baseline_auc``, ``gain`` and
        its interval (``gain_ci_low``, ``gain_ci_high``, txpredict.compare).
    n_pilot : int
        The pilot's size.
    random_state : int
        Seeds the bootstrap of the fits.
    half_width : float
        The AUC interval (+-half_width) the answers are given for.
    """

    points: pd.DataFrame
    n_pilot: int
    random_state: int = 0
    half_width: float = 0.05
    _boot: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        rng = np.random.default_rng(self.random_state)
        sizes = np.sort(self.points["n"].unique())
        groups = [self.points[self.points["n"] == n] for n in sizes]
        curves = ["auc", "half_width", *(["gain"] if "gain" in self.points else [])]
        for curve in curves:
            means = np.array([g[curve].mean() for g in groups])
            fit = _FITS[curve]
            coef = fit(sizes, means)
            # Two sources of error: the curve's shape, from how the subsamples
            # vary (a bootstrap of them), and its level, which is this pilot's
            # own estimate and off by its sampling error (a draw from it). The
            # subsamples alone share the pilot's error: their intervals held
            # the truth in 42-90% of pilots (benchmarks/learning_curve.py).
            level = self._level_error(curve, coef)
            boots = []
            for _ in range(BOOTSTRAPS):
                resampled = [
                    rng.choice(g[curve].to_numpy(), len(g)).mean() for g in groups
                ]
                refit = np.array(fit(sizes, np.array(resampled)), dtype=float)
                refit[0] += rng.normal(0, level)
                boots.append(refit)
            self._boot[curve] = (coef, boots)

    def _level_error(self, curve, coef) -> float:
        """SD of this pilot's error in the curve's level (its first coefficient).

        AUC: the pilot's own interval (half-width / 1.96); gain: the interval
        of the pilot's AUC difference (txpredict.compare); half-width (fitted
        in logs): the scatter of single subsamples' log half-widths around
        the fit, one pilot being one such draw.
        """
        pilot = self.points[self.points["n"] == self.n_pilot]
        if curve == "auc":
            return float(pilot["half_width"].mean() / 1.96)
        if curve == "gain":
            if "gain_ci_low" not in pilot:
                return 0.0
            width = (pilot["gain_ci_high"] - pilot["gain_ci_low"]).mean()
            return float(width / (2 * 1.96)) if np.isfinite(width) else 0.0
        logs = np.log(np.maximum(self.points["half_width"].to_numpy(), 1e-6))
        fitted = coef[0] + coef[1] * np.log(self.points["n"].to_numpy())
        return float(np.std(logs - fitted, ddof=min(2, len(logs) - 1)))

    @property
    def has_gain(self) -> bool:
        """Whether a baseline was measured (the gain and the power question)."""
        return "gain" in self._boot

    def extrapolate(self, sizes) -> pd.DataFrame:
        """Each curve at ``sizes``, with its 95% interval.

        Parameters
        ----------
        sizes : sequence of int
            Cohort sizes to extrapolate to.

        Returns
        -------
        DataFrame
            Indexed by ``n``: ``auc``, ``auc_low``, ``auc_high``,
            ``half_width`` (and its interval), ``gain`` (and its interval)
            with a baseline.
        """
        sizes = np.asarray(sizes, dtype=float)
        table = {}
        for curve, (coef, boots) in self._boot.items():
            predict = _PREDICT[curve]
            table[curve] = predict(coef, sizes)
            spread = np.array([predict(b, sizes) for b in boots])
            table[f"{curve}_low"], table[f"{curve}_high"] = np.percentile(
                spread, [2.5, 97.5], axis=0
            )
        return pd.DataFrame(table, index=pd.Index(sizes.astype(int), name="n"))

    def n_for_half_width(self, half_width=None) -> tuple[float, float, float]:
        """Patients for an AUC interval of +-``half_width``: (n, low, high).

        ``half_width`` defaults to the curve's. ``inf`` where the curve does
        not get there below :data:`LARGEST_N`.

        Parameters
        ----------
        half_width : float or None, default=None
            The AUC interval's half-width wanted; None: the curve's own
            ``half_width``.
        """
        half_width = self.half_width if half_width is None else half_width
        if not 0 < half_width < 0.5:
            raise TxpredictError(
                f"half_width must be between 0 and 0.5 (an AUC interval of "
                f"+-half_width); got {half_width!r}."
            )
        coef, boots = self._boot["half_width"]
        return _with_interval(
            _n_for_width(coef, half_width), [_n_for_width(b, half_width) for b in boots]
        )

    def n_for_power(self) -> tuple[float, float, float]:
        """Patients for 80% power to show the gain over the baseline: (n, low, high).

        The smallest n at which the extrapolated gain is one the added-value
        test detects with 80% power (:func:`txpredict.stats.patients_to_detect`:
        measured on populations of 9 ROI means and a 50% response rate).
        ``inf`` where the gain stays too small below :data:`LARGEST_N`.
        """
        if not self.has_gain:
            raise TxpredictError(
                "n_for_power needs the gain over a baseline: pass baseline= to "
                "learning_curve."
            )
        coef, boots = self._boot["gain"]
        return _with_interval(_n_for_power(coef), [_n_for_power(b) for b in boots])

    def sentences(self) -> list[str]:
        """The answers in words, with their intervals (for reports)."""
        half_width = self.half_width
        sizes = sorted(self.points["n"].unique())
        pilot = self.points[self.points["n"] == self.n_pilot]
        lines = [
            f"Learning curve: the whole nested procedure rerun on "
            f"{self.points['subsample'].nunique()} stratified subsamples of "
            f"{', '.join(map(str, sizes[:-1]))} patients and on all {self.n_pilot}: "
            f"AUC {pilot['auc'].mean():.3f} with all of them; extrapolated to "
            + "; ".join(
                f"n = {n}: {row.auc:.3f} ({row.auc_low:.3f} to {row.auc_high:.3f})"
                for n, row in self.extrapolate(
                    [2 * self.n_pilot, 4 * self.n_pilot]
                ).iterrows()
            )
            + "."
        ]
        n, low, high = self.n_for_half_width(half_width)
        lines.append(
            f"An AUC interval of +-{half_width:g} needs about {_count(n)} patients "
            f"(95% interval {_count(low)} to {_count(high)})."
        )
        if self.has_gain:
            n, low, high = self.n_for_power()
            lines.append(
                f"80% power to show the gain over the baseline needs about "
                f"{_count(n)} patients ({_count(low)} to {_count(high)}; this "
                f"study: {self.n_pilot})."
            )
        lines.append(
            "The intervals combine how the subsamples vary with this study's own "
            "sampling error; how often they held the truth on synthetic "
            "populations is measured in benchmarks/learning_curve.py."
        )
        return lines


def learning_curve(
    estimator,
    X,
    y,
    *,
    baseline=None,
    fractions=DEFAULT_FRACTIONS,
    n_subsamples=5,
    outer_cv=5,
    inner_cv=5,
    n_repeats=2,
    groups=None,
    inner_groups=True,
    n_jobs=None,
    random_state=0,
    half_width=0.05,
) -> LearningCurve:
    """Nested CV on subsamples of a pilot, extrapolated to larger studies.

    Parameters
    ----------
    estimator : ResponseClassifier
        The model whose AUC and interval are extrapolated.
    X, y
        The pilot, as in :func:`nested_cross_validate` (aligned by index).
    baseline : ResponseClassifier or None, default=None
        E.g. the demographics-only model: also the gain over it, on the same
        subsamples and splits, and :meth:`LearningCurve.n_for_power`.
    fractions : sequence of float, default=(0.5, 0.625, 0.75, 0.875, 1.0)
        Subsample sizes as fractions of the pilot (1.0: the pilot itself,
        once). At least three sizes.
    n_subsamples : int, default=5
        Stratified subsamples drawn at each size below the pilot's.
    outer_cv, inner_cv, n_repeats, groups, inner_groups, n_jobs
        As in :func:`nested_cross_validate`, for every subsample.
    random_state : int, default=0
        Seeds the subsamples, their splits and the bootstrap.
    half_width : float, default=0.05
        The AUC interval (+-half_width) whose n the answers give.

    Returns
    -------
    LearningCurve

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(60, effect="prognostic", grid="fsl6",
    ...                                   random_state=0)
    >>> curve = tp.learning_curve(tp.ResponseClassifier("demographics"), cohort.X,
    ...                           cohort.y, fractions=(0.6, 0.8, 1.0),
    ...                           n_subsamples=2, n_repeats=1, outer_cv=3,
    ...                           inner_cv=3)
    >>> curve.points.groupby("n").size().to_dict()
    {36: 2, 48: 2, 60: 1}
    >>> list(curve.extrapolate([120, 240]).columns[:3])
    ['auc', 'auc_low', 'auc_high']
    """
    # One check for every entry point: y and groups aligned to X by participant.
    index, labels = check_X_y(X, y)
    group_labels = check_group_labels(groups, X, index)
    y = pd.Series(labels, index=index)
    n_pilot = len(y)
    if any(not 0 < f <= 1 for f in fractions):
        raise TxpredictError(
            f"fractions are shares of the pilot, in (0, 1]; got {tuple(fractions)!r}."
        )
    sizes = sorted({round(f * n_pilot) for f in fractions})
    if len(sizes) < 3:
        raise TxpredictError(
            f"fractions must give at least three different sizes (of the pilot's "
            f"{n_pilot} patients) to fit a curve; got {tuple(fractions)!r}."
        )
    if (
        isinstance(n_subsamples, bool)
        or not isinstance(n_subsamples, int)
        or (n_subsamples < 2)
    ):
        raise TxpredictError(
            f"n_subsamples must be an integer >= 2 (subsamples per size); got "
            f"{n_subsamples!r}."
        )
    rng = np.random.default_rng(random_state)
    rows = []
    for n in sizes:
        draws = (
            [np.arange(n_pilot)]
            if n == n_pilot
            else [
                train
                for train, _ in StratifiedShuffleSplit(
                    n_splits=n_subsamples,
                    train_size=n,
                    random_state=int(rng.integers(2**31)),
                ).split(np.zeros(n_pilot), y)
            ]
        )
        for k, chosen in enumerate(draws):
            chosen = np.sort(chosen)
            seed = int(rng.integers(2**31))
            rows.append(
                _one_subsample(
                    estimator,
                    baseline,
                    X.iloc[chosen],
                    y.iloc[chosen],
                    None if group_labels is None else group_labels[chosen],
                    {
                        "outer_cv": outer_cv,
                        "inner_cv": inner_cv,
                        "n_repeats": n_repeats,
                        "inner_groups": inner_groups,
                        "n_jobs": n_jobs,
                        "random_state": seed,
                    },
                )
                | {"n": n, "subsample": k, "seed": seed}
            )
    points = pd.DataFrame(rows)
    first = ["n", "subsample", "seed"]
    points = points[first + [c for c in points if c not in first]]
    return LearningCurve(points, n_pilot, random_state, half_width)


def _one_subsample(estimator, baseline, X, y, groups, options) -> dict:
    """The AUC, its interval and the gain over the baseline on one subsample."""
    result = nested_cross_validate(estimator, X, y, groups=groups, **options)
    auc = result.summary()
    row = {
        "auc": auc.at["auc", "estimate"],
        "ci_low": auc.at["auc", "ci_low"],
        "ci_high": auc.at["auc", "ci_high"],
    }
    row["half_width"] = (row["ci_high"] - row["ci_low"]) / 2
    if baseline is not None:
        base = nested_cross_validate(baseline, X, y, groups=groups, **options)
        row["baseline_auc"] = base.summary().at["auc", "estimate"]
        row["gain"] = row["auc"] - row["baseline_auc"]
        difference = compare(result, base).table.loc["auc"]
        row["gain_ci_low"] = difference["ci_low"]
        row["gain_ci_high"] = difference["ci_high"]
    return row


def _inverse_sqrt(sizes, values):
    """(a, b) of values = a - b / sqrt(n), least squares."""
    design = np.column_stack([np.ones(len(sizes)), -1 / np.sqrt(sizes)])
    return np.linalg.lstsq(design, values, rcond=None)[0]


def _power_law(sizes, values):
    """(c, d) of log(values) = c + d log(n), least squares."""
    design = np.column_stack([np.ones(len(sizes)), np.log(sizes)])
    return np.linalg.lstsq(design, np.log(np.maximum(values, 1e-6)), rcond=None)[0]


_FITS = {"auc": _inverse_sqrt, "gain": _inverse_sqrt, "half_width": _power_law}
_PREDICT = {
    "auc": lambda coef, n: np.clip(coef[0] - coef[1] / np.sqrt(n), 0, 1),
    "gain": lambda coef, n: coef[0] - coef[1] / np.sqrt(n),
    "half_width": lambda coef, n: np.exp(coef[0] + coef[1] * np.log(n)),
}


def _n_for_width(coef, half_width) -> float:
    c, d = coef
    if d >= 0:  # the interval does not narrow with n: no n is enough
        return np.inf
    log_n = (np.log(half_width) - c) / d
    return float(np.exp(log_n)) if log_n <= np.log(LARGEST_N) else np.inf


@functools.cache
def _detectable():
    """(gains, n): patients_to_detect on a grid of gains, for interpolation."""
    gains = np.geomspace(_SMALLEST_GAIN, 0.49, 200)
    return gains, np.array([patients_to_detect(float(g)).n for g in gains])


def _n_for_power(coef) -> float:
    """The smallest n whose extrapolated gain the test detects with 80% power."""
    candidates = np.unique(np.geomspace(10, LARGEST_N, 600).astype(int))
    gains = _PREDICT["gain"](coef, candidates)
    grid, needed = _detectable()
    required = np.interp(np.clip(gains, _SMALLEST_GAIN, 0.49), grid, needed)
    enough = (gains >= _SMALLEST_GAIN) & (candidates >= required)
    return float(candidates[np.argmax(enough)]) if enough.any() else np.inf


def _with_interval(estimate, boots) -> tuple[float, float, float]:
    # Quantiles that are values (no interpolation): some refits may be inf.
    low, high = np.quantile(
        np.asarray(boots, dtype=float), [0.025, 0.975], method="inverted_cdf"
    )
    return float(estimate), float(low), float(high)


def _count(n) -> str:
    return f"more than {LARGEST_N:,}" if not np.isfinite(n) else f"{n:,.0f}"
