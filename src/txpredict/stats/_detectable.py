"""How large a gain the added-value test finds at a given n: the measured answer.

A non-significant test of added value at n = 60 more often means "too small a
study to tell" than "the scan adds nothing". ``benchmarks/detectable_effect.py``
runs :func:`txpredict.added_value` as users call it on cohorts from synthetic
populations whose scan effect is scaled, and measures, per n, the smallest
large-sample AUC gain the test detects with 80% power; it writes
``detectable_effect.json`` beside this module. Between the measured sizes the
gain is interpolated linearly in log n and log gain (a power law); outside
them it is extrapolated the same way, and says so. A size at which no gain the
benchmark tried reached 80% power (n = 40) has no point on the power law; the
sentence reports what was measured there instead.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib.resources import files
from numbers import Integral, Real

from txpredict.errors import TxpredictError


@functools.cache
def _measured() -> dict:
    return json.loads(
        files("txpredict.stats").joinpath("detectable_effect.json").read_text("utf-8")
    )


def _nearest(sizes, n: int) -> int:
    return min(sizes, key=lambda s: abs(math.log(s / n)))


@dataclass(frozen=True)
class DetectableGain:
    """The AUC gain the added-value test detects with ``power`` at ``n``.

    Attributes
    ----------
    n : int
    gain : float
        Large-sample AUC of scan + baseline minus that of the baseline.
    power, alpha : float
    measured_sizes : tuple of int
        The sample sizes at which the benchmark found the ``power`` point;
        ``n`` outside their range is extrapolated.
    mcse : float
        The benchmark's Monte-Carlo error of ``gain`` at the nearest measured n.
    setting : str
        The populations it was measured on.
    not_reached : tuple of (n, gain, power)
        Sizes at which no gain the benchmark tried reached ``power``: the
        largest gain tried and the power measured there.
    """

    n: int
    gain: float
    power: float
    alpha: float
    measured_sizes: tuple
    mcse: float
    setting: str
    not_reached: tuple = ()

    @property
    def nearest(self) -> int:
        """The measured size closest to ``n`` (on a log scale): ``mcse``'s."""
        return _nearest(self.measured_sizes, self.n)

    @property
    def extrapolated(self) -> bool:
        """Whether ``n`` lies outside the measured sizes."""
        return not self.measured_sizes[0] <= self.n <= self.measured_sizes[-1]

    def sentence(self) -> str:
        """What a non-significant result at this n can and cannot rule out."""
        low, high = self.measured_sizes[0], self.measured_sizes[-1]
        where = (
            f"extrapolated from n = {low}-{high}"
            if self.extrapolated
            else f"measured at n = {low}-{high}, interpolated"
        )
        below = "".join(
            f" At n = {size} the benchmark measured {100 * power:.0f}% power for "
            f"the largest gain it tried, {gain:.2f}."
            for size, gain, power in self.not_reached
            if self.n <= size
        )
        return (
            f"With n = {self.n}, the added-value test detects with "
            f"{100 * self.power:.0f}% power (alpha = {self.alpha:g}) a scan that "
            f"raises the AUC by about {self.gain:.2f} over the baseline alone, in the "
            f"population (Monte-Carlo error +- {self.mcse:.2f} at n = "
            f"{self.nearest}; {where}; "
            f"{self.setting}).{below} A smaller gain may go undetected: a "
            "non-significant result then means too small a study to tell, not "
            "that the scan adds nothing."
        )


def detectable_auc_gain(n) -> DetectableGain:
    """The smallest AUC gain the added-value test detects with 80% power at n.

    Parameters
    ----------
    n : int
        The number of patients analysed (at least 10).

    Returns
    -------
    DetectableGain

    Examples
    --------
    >>> from txpredict.stats import detectable_auc_gain
    >>> small, large = detectable_auc_gain(60), detectable_auc_gain(200)
    >>> small.gain > large.gain
    True
    """
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 10:
        raise TxpredictError(
            f"n must be a number of patients (an integer >= 10), got {n!r}."
        )
    n = int(n)
    table, sizes, gains = _power_law_points()
    k = _segment(sizes, n)
    gain = gains[k] * (n / sizes[k]) ** _slope(sizes, gains, k)
    entries = {int(size): entry for size, entry in table["sizes"].items()}
    not_reached = tuple(
        (s, entry["not_reached_up_to"], entry["power_there"])
        for s, entry in sorted(entries.items())
        if entry["gain_80"] is None
    )
    return DetectableGain(
        n=n,
        gain=gain,
        power=table["power"],
        alpha=table["alpha"],
        measured_sizes=tuple(sizes),
        mcse=entries[_nearest(sizes, n)]["mcse"],
        setting=table["setting"],
        not_reached=not_reached,
    )


def patients_to_detect(gain) -> DetectableGain:
    """How many patients the added-value test needs to detect an AUC gain.

    The inverse of :func:`detectable_auc_gain`, on the same power law: the
    smallest n whose detectable gain (80% power) is at most ``gain``. What a
    study would need to settle the gain a pilot saw.

    Parameters
    ----------
    gain : float
        Large-sample AUC gain of scan + baseline over the baseline, in (0, 0.5).

    Returns
    -------
    DetectableGain
        At that n (its ``extrapolated`` says whether n lies outside the
        measured sizes, its ``sentence()`` what n = 40 measured).

    Examples
    --------
    >>> from txpredict.stats import patients_to_detect
    >>> patients_to_detect(0.10).n
    152
    """
    if isinstance(gain, bool) or not isinstance(gain, Real) or not 0 < gain < 0.5:
        raise TxpredictError(
            f"gain must be an AUC gain strictly between 0 and 0.5, got {gain!r}."
        )
    _, sizes, gains = _power_law_points()
    # The segment whose gains hold ``gain`` (gains fall as n grows), or the
    # nearest one at either end.
    k = min(max(sum(g >= gain for g in gains) - 1, 0), len(sizes) - 2)
    n = sizes[k] * (gain / gains[k]) ** (1 / _slope(sizes, gains, k))
    # ceil, but not past a float's rounding of an exact measured size
    return detectable_auc_gain(max(10, math.ceil(n - 1e-9)))


def _power_law_points():
    """(table, sizes, gains): the sizes at which the 80% point was found."""
    table = _measured()
    entries = {int(size): entry for size, entry in table["sizes"].items()}
    sizes = sorted(s for s, entry in entries.items() if entry["gain_80"] is not None)
    return table, sizes, [entries[s]["gain_80"] for s in sizes]


def _segment(sizes, n) -> int:
    """The segment (k, k + 1) of sizes that holds n, or the nearest end one."""
    return min(max(sum(s <= n for s in sizes) - 1, 0), len(sizes) - 2)


def _slope(sizes, gains, k) -> float:
    """The power law's exponent on segment k (log gain against log n)."""
    return math.log(gains[k + 1] / gains[k]) / math.log(sizes[k + 1] / sizes[k])
