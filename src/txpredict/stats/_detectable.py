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
from numbers import Integral

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
    table = _measured()
    entries = {int(size): entry for size, entry in table["sizes"].items()}
    sizes = sorted(s for s, entry in entries.items() if entry["gain_80"] is not None)
    gains = [entries[s]["gain_80"] for s in sizes]
    not_reached = tuple(
        (s, entry["not_reached_up_to"], entry["power_there"])
        for s, entry in sorted(entries.items())
        if entry["gain_80"] is None
    )
    # The segment that holds n, or the nearest one at either end.
    k = min(max(sum(s <= n for s in sizes) - 1, 0), len(sizes) - 2)
    slope = math.log(gains[k + 1] / gains[k]) / math.log(sizes[k + 1] / sizes[k])
    gain = gains[k] * (n / sizes[k]) ** slope
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
