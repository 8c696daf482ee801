"""Riley et al.'s minimum sample size: the published example and pmsampsize."""

import importlib
import os

import numpy as np
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.stats import cox_snell_r2_from_c, max_cox_snell_r2

#: pmsampsize passes dicts to statsmodels' formulas, which warns.
reference_warnings = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _pmsampsize():
    """The reference implementation (a test-time dependency; see the Makefile)."""
    try:
        return importlib.import_module("pmsampsize.pmsampsize")
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("pmsampsize is missing in CI: the Makefile should install it")
        pytest.skip("pmsampsize is not installed: `make test` installs it")


def test_the_published_worked_example():
    """Riley et al., BMJ 2020;368:m441: 24 parameters, prevalence 0.174, R2_cs
    0.288 -> 623 (shrinkage), 662 (optimism), 221 (overall risk): 662."""
    size = tp.minimum_sample_size(24, 0.174, r2_cs=0.288)
    assert size.criteria["n"].tolist() == [623, 662, 221]
    assert size.n == 662
    assert max_cox_snell_r2(0.174) == pytest.approx(0.603, abs=5e-4)
    assert size.events == pytest.approx(662 * 0.174)
    assert size.events_per_parameter == pytest.approx(662 * 0.174 / 24)
    # The chosen n overshoots criterion 2's shrinkage target only by rounding up.
    assert size.shrinkage == pytest.approx(0.905, abs=1e-3)
    assert size.criteria.at["1: shrinkage", "shrinkage"] == pytest.approx(0.9, abs=1e-3)
    assert "at least 662 patients" in repr(size)


@reference_warnings
@pytest.mark.parametrize(
    "parameters, prevalence, r2",
    [
        (24, 0.174, 0.288),
        (9, 0.5, 0.12),
        (30, 0.3, 0.2),
        (5, 0.05, 0.02),
        (13, 0.4, 0.05),
    ],
)
def test_every_criterion_is_pmsampsizes(parameters, prevalence, r2):
    reference = _pmsampsize().pmsampsize(
        type="b",
        parameters=parameters,
        prevalence=prevalence,
        csrsquared=r2,
        noprint=True,
    )
    size = tp.minimum_sample_size(parameters, prevalence, r2_cs=r2)
    assert size.n == reference["sample_size"]
    assert size.criteria["n"].tolist() == [
        row[1] for row in reference["results_table"][:3]
    ]
    assert size.max_r2_cs == pytest.approx(reference["max_r2a"], rel=1e-3)


@reference_warnings
@pytest.mark.parametrize("c, prevalence", [(0.89, 0.174), (0.62, 0.3)])
def test_r2_from_a_c_statistic_is_the_expectation_pmsampsize_simulates(c, prevalence):
    """pmsampsize simulates a million patients; ours integrates: the same up to
    its simulation error (the mean of 6 seeds, within 4 of their SEs)."""
    module = _pmsampsize()
    draws = [
        module.cstat2rsq(c, prevalence, seed, True)["R2_coxsnell"] for seed in range(6)
    ]
    exact = cox_snell_r2_from_c(c, prevalence)
    assert abs(exact - np.mean(draws)) <= 4 * np.std(draws, ddof=1) / np.sqrt(6) + 1e-5
    # Symmetric in which class is the event, as the R^2 is.
    assert cox_snell_r2_from_c(c, 1 - prevalence) == pytest.approx(exact, rel=1e-9)
    # pmsampsize's n from its simulated R^2 (another simulation would repeat
    # the draws above): ours within 1%.
    reference = module.pmsampsize(
        type="b",
        parameters=10,
        prevalence=prevalence,
        csrsquared=float(np.mean(draws)),
        noprint=True,
    )
    assert tp.minimum_sample_size(10, prevalence, c_statistic=c).n == pytest.approx(
        reference["sample_size"], rel=0.01
    )


def test_a_stronger_model_or_fewer_parameters_need_fewer_patients():
    weak = tp.minimum_sample_size(9, 0.5, c_statistic=0.65).n
    strong = tp.minimum_sample_size(9, 0.5, c_statistic=0.75).n
    fewer = tp.minimum_sample_size(3, 0.5, c_statistic=0.65).n
    assert strong < weak and fewer < weak


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"n_parameters": 0, "prevalence": 0.5, "r2_cs": 0.1}, "n_parameters must"),
        ({"n_parameters": 2.5, "prevalence": 0.5, "r2_cs": 0.1}, "n_parameters must"),
        ({"n_parameters": 9, "prevalence": 1.0, "r2_cs": 0.1}, "prevalence must"),
        ({"n_parameters": 9, "prevalence": 0.5}, "exactly one of r2_cs"),
        (
            {"n_parameters": 9, "prevalence": 0.5, "r2_cs": 0.1, "c_statistic": 0.7},
            "exactly one of r2_cs",
        ),
        (
            {"n_parameters": 9, "prevalence": 0.1, "r2_cs": 0.5},
            r"r2_cs must be .* 0\.1",
        ),
        (
            {"n_parameters": 9, "prevalence": 0.5, "c_statistic": 0.4},
            "c_statistic must",
        ),
        (
            {"n_parameters": 9, "prevalence": 0.5, "r2_cs": 0.3, "shrinkage": 0.2},
            "shrinkage must",
        ),
    ],
)
def test_inputs_out_of_range_are_refused_by_name(arguments, message):
    with pytest.raises(TxpredictError, match=message):
        tp.minimum_sample_size(**arguments)
