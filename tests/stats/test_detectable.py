"""The detectable AUC gain the reports quote is the benchmark's, interpolated."""

import importlib.util
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from txpredict.errors import TxpredictError
from txpredict.stats import detectable_auc_gain, patients_to_detect
from txpredict.stats._detectable import _measured

RESULTS = Path(__file__).parents[2] / "benchmarks" / "results" / "detectable_effect"


@pytest.fixture(scope="module")
def benchmark():
    folder = str(RESULTS.parents[1])
    sys.path.insert(0, folder)  # the script imports calibration and _common
    try:
        spec = importlib.util.spec_from_file_location(
            "detectable_effect_benchmark", RESULTS.parents[1] / "detectable_effect.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


def test_package_table_is_the_committed_benchmark(benchmark):
    summary = json.loads((RESULTS / "summary.json").read_text())
    table = _measured()
    assert table["sizes"] == summary["sizes"]
    assert (table["power"], table["alpha"]) == (benchmark.POWER, benchmark.ALPHA)
    # And the committed summary is what the committed replicates give.
    raw = pd.read_csv(RESULTS / "replicates.csv")
    gains = pd.DataFrame(summary["population_gains"])
    again = benchmark.summarise(raw, gains)
    for n, entry in summary["sizes"].items():
        assert again["sizes"][n]["gain_80"] == pytest.approx(entry["gain_80"])
        assert again["sizes"][n].get("power_there") == entry.get("power_there")


def test_the_power_curve_fit_finds_a_known_80_percent_point(benchmark):
    """Decisions drawn from a known logistic power curve: its 80% point back."""
    rng = np.random.default_rng(0)
    gains = np.repeat([0.05, 0.10, 0.15, 0.20], 400)
    truth = 0.12  # power(gain) = expit(30 * (gain - truth) + logit(0.8))
    power = expit(30 * (gains - truth) + math.log(4))
    decisions = rng.random(len(gains)) < power
    assert benchmark.detectable_gain(gains, decisions) == pytest.approx(truth, abs=0.01)
    assert np.isnan(benchmark.detectable_gain(gains, np.zeros(len(gains), bool)))


def test_an_80_percent_point_beyond_the_gains_tried_is_not_reported(benchmark):
    """Power stuck at 60%: the fitted 80% point is an extrapolation, not a result."""
    rng = np.random.default_rng(1)
    gains = np.repeat([0.10, 0.15, 0.20], 200)
    decisions = rng.random(len(gains)) < np.repeat([0.35, 0.5, 0.6], 200)
    raw = pd.DataFrame(
        {
            "n": 40,
            "strength": np.repeat([1.0, 1.5, 2.0], 200),
            "cv_gain": gains,
            "scan_adds": decisions,
        }
    )
    population = pd.DataFrame({"strength": [1.0, 1.5, 2.0], "gain": [0.10, 0.15, 0.20]})
    entry = benchmark.summarise(raw, population)["sizes"]["40"]
    assert entry["gain_80"] is None and entry["not_reached_up_to"] == 0.20
    assert entry["power_there"] == pytest.approx(decisions[-200:].mean())


def test_measured_sizes_give_the_measured_gains_and_others_a_power_law():
    table = {n: e for n, e in _measured()["sizes"].items() if e["gain_80"]}
    sizes = sorted(int(n) for n in table)
    for n in sizes:
        assert detectable_auc_gain(n).gain == pytest.approx(table[str(n)]["gain_80"])
        assert not detectable_auc_gain(n).extrapolated
    low, high = sizes[0], sizes[1]
    middle = round(math.sqrt(low * high))
    expected = table[str(low)]["gain_80"] * (
        table[str(high)]["gain_80"] / table[str(low)]["gain_80"]
    ) ** (math.log(middle / low) / math.log(high / low))
    assert detectable_auc_gain(middle).gain == pytest.approx(expected)
    gains = [detectable_auc_gain(n).gain for n in (20, 40, 60, 100, 150, 200, 400)]
    assert all(a > b for a, b in itertools.pairwise(gains))


def test_sizes_outside_the_benchmark_say_they_are_extrapolated():
    table = _measured()["sizes"]
    reached = sorted(int(n) for n, e in table.items() if e["gain_80"] is not None)
    small = detectable_auc_gain(20)
    span = f"extrapolated from n = {reached[0]}-{reached[-1]}"
    assert small.extrapolated and span in small.sentence()
    inside = detectable_auc_gain(150).sentence()
    assert "interpolated" in inside and "With n = 150" in inside
    assert "too small a study to tell" in inside
    # Below a size where 80% power was never reached, what was measured there.
    for n, entry in table.items():
        if entry["gain_80"] is None:
            below = detectable_auc_gain(int(n) - 5).sentence()
            assert f"At n = {n} the benchmark measured" in below
            assert f"{100 * entry['power_there']:.0f}% power" in below
            assert f"At n = {n} the" not in detectable_auc_gain(int(n) + 5).sentence()


@pytest.mark.parametrize("n", [0, 9, 60.5, "60", True])
def test_a_bad_n_is_refused_by_name(n):
    with pytest.raises(TxpredictError, match="n must be a number of patients"):
        detectable_auc_gain(n)


@pytest.mark.parametrize("gain", [0.30, 0.135, 0.10, 0.06, 0.02])
def test_patients_to_detect_is_the_smallest_n_that_detects_the_gain(gain):
    """The inverse of detectable_auc_gain: at n the gain is detectable, not at n - 1."""
    needed = patients_to_detect(gain)
    assert needed.gain <= gain < detectable_auc_gain(needed.n - 1).gain


def test_patients_to_detect_a_measured_gain_is_its_measured_size():
    table = _measured()["sizes"]
    for n, entry in table.items():
        if entry["gain_80"] is not None:
            assert patients_to_detect(entry["gain_80"]).n == int(n)


@pytest.mark.parametrize("gain", [0, -0.1, 0.5, 1.2, "0.1", True, float("nan")])
def test_a_bad_gain_is_refused_by_name(gain):
    with pytest.raises(TxpredictError, match="gain must be an AUC gain"):
        patients_to_detect(gain)
