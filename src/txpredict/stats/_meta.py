"""Between-site heterogeneity: Cochran's Q, I^2 and DerSimonian-Laird tau^2.

Leave-site-out CV gives one estimate per held-out site, each from a model that
never saw that site. Whether they agree is the question a multi-site study
must answer (does the model generalise to the next clinic?): Cochran's Q
tests homogeneity, I^2 is the share of the spread beyond sampling error
(Higgins & Thompson 2002), tau^2 the between-site variance (DerSimonian &
Laird 1986), with the random-effects pooled estimate and its interval.

With a handful of sites (three is common) the usual normal-quantile interval
of the random-effects estimate is far too narrow: it ignores that tau^2 is
estimated from three numbers. The interval here is Hartung-Knapp-Sidik-Jonkman
(t on k - 1 degrees of freedom, IntHout et al. 2014, BMC Med Res Methodol
14:25), never narrower than the DerSimonian-Laird one (the modification of
Jackson et al. 2017, Stat Med 36:3923). The prediction interval (Higgins,
Thompson & Spiegelhalter 2009, JRSS A 172:137) is the range of performance
expected at a new site, the answer to "how will it do at the next clinic?".
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def heterogeneity(estimates, variances, confidence=0.95) -> dict:
    """Fixed- and random-effects pooling of per-site estimates.

    Parameters
    ----------
    estimates, variances : array-like of shape (n_sites,)
        Sites with a non-finite estimate or a non-positive variance are left out.
    confidence : float, default=0.95
        Level of the intervals.

    Returns
    -------
    dict
        ``n_sites``, ``q``, ``df``, ``p_value`` (Cochran's Q test), ``i2``,
        ``tau2``, ``fixed`` and ``random`` (pooled estimates), the random
        effects interval ``random_ci_low``, ``random_ci_high`` (modified
        Hartung-Knapp-Sidik-Jonkman) and the prediction interval for a new
        site ``prediction_low``, ``prediction_high`` (three sites or more).

    Examples
    --------
    >>> h = heterogeneity([0.60, 0.62, 0.58], [0.002, 0.003, 0.002])
    >>> round(h["i2"], 2), round(h["random"], 3)
    (0.0, 0.598)
    """
    theta = np.asarray(estimates, dtype=float)
    variance = np.asarray(variances, dtype=float)
    keep = np.isfinite(theta) & np.isfinite(variance) & (variance > 0)
    theta, variance = theta[keep], variance[keep]
    k = len(theta)
    if k < 2:
        return {"n_sites": k} | dict.fromkeys(
            [
                "q",
                "df",
                "p_value",
                "i2",
                "tau2",
                "fixed",
                "random",
                "random_ci_low",
                "random_ci_high",
                "prediction_low",
                "prediction_high",
            ],
            np.nan,
        )
    w = 1 / variance
    fixed = float((w * theta).sum() / w.sum())
    q = float((w * (theta - fixed) ** 2).sum())
    df = k - 1
    tau2 = max(0.0, (q - df) / (w.sum() - (w**2).sum() / w.sum()))
    w_random = 1 / (variance + tau2)
    random = float((w_random * theta).sum() / w_random.sum())
    variance_dl = 1 / w_random.sum()
    variance_hksj = (w_random * (theta - random) ** 2).sum() / (df * w_random.sum())
    quantile = stats.t.ppf(0.5 + confidence / 2, df)
    half = quantile * np.sqrt(max(variance_hksj, variance_dl))
    prediction = np.nan
    if k >= 3:
        prediction = stats.t.ppf(0.5 + confidence / 2, k - 2) * np.sqrt(
            tau2 + variance_dl
        )
    return {
        "n_sites": k,
        "q": q,
        "df": df,
        "p_value": float(stats.chi2.sf(q, df)),
        "i2": max(0.0, (q - df) / q) if q > 0 else 0.0,
        "tau2": float(tau2),
        "fixed": fixed,
        "random": random,
        "random_ci_low": random - half,
        "random_ci_high": random + half,
        "prediction_low": random - prediction,
        "prediction_high": random + prediction,
    }
