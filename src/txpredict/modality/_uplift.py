"""Uplift (Qini) curves: how well a PAI ranks patients by their benefit.

Radcliffe (2007): rank patients by predicted benefit of the second arm (the
PAI); at each cut-off k, the Qini curve is the number of extra responders the
second arm produced among the top k, Q(k) = R_t(k) - R_c(k) N_t(k) / N_c(k)
(t: received the second arm, c: the first). The Qini coefficient is the area
between this curve and the straight line of a random ranking, per patient.
"""

from __future__ import annotations

import numpy as np


def qini_curve(y, received_second_arm, pai) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of patients targeted and Q(k), from best to worst predicted benefit.

    Parameters
    ----------
    y : array of 0/1
    received_second_arm : array of bool
    pai : array
        Predicted benefit of the second arm (higher first).

    Returns
    -------
    fraction : ndarray of shape (n + 1,)
    qini : ndarray of shape (n + 1,)
        Starts at 0; ends at the overall incremental responders.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1, 0, 1, 0]); t = np.array([True, False, False, True])
    >>> qini_curve(y, t, np.array([4, 3, 2, 1]))[1].tolist()
    [0.0, 1.0, 1.0, 0.5, 0.0]
    """
    order = np.argsort(-np.asarray(pai, dtype=float), kind="stable")
    y = np.asarray(y, dtype=float)[order]
    treated = np.asarray(received_second_arm, dtype=bool)[order]
    responders_t = np.concatenate([[0.0], np.cumsum(y * treated)])
    responders_c = np.concatenate([[0.0], np.cumsum(y * ~treated)])
    n_t = np.concatenate([[0.0], np.cumsum(treated)])
    n_c = np.concatenate([[0.0], np.cumsum(~treated)])
    with np.errstate(invalid="ignore", divide="ignore"):
        qini = responders_t - np.where(n_c > 0, responders_c * n_t / n_c, 0.0)
    fraction = np.arange(len(y) + 1) / len(y)
    return fraction, qini


def qini_coefficient(y, received_second_arm, pai) -> float:
    """Area between the Qini curve and the random-ranking line, per patient."""
    fraction, qini = qini_curve(y, received_second_arm, pai)
    random_line = fraction * qini[-1]
    return float(np.trapezoid(qini - random_line, fraction) / len(qini[1:]))
