"""The inner CV's choices at the ends of their grids are counted and warned about."""

import json

import pandas as pd
import pytest

import txpredict as tp
from txpredict.model_selection._summary import grid_edge_warnings, grid_edges


def _folds(values, key="C"):
    return pd.DataFrame({"best_params": [json.dumps({key: v}) for v in values]})


def test_grid_edges_count_each_end():
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    edges = grid_edges(_folds([0.01, 0.01, 0.1, 10.0, 0.01, 1.0]), grid)
    assert edges.loc["C"].to_dict() == {
        "lowest": 0.01,
        "highest": 10.0,
        "at_lowest": 3,
        "at_highest": 1,
        "n_folds": 6,
    }
    (message,) = grid_edge_warnings(edges)  # 3 of 6 at the lowest; 1 is not many
    assert "C = 0.01, the lowest value of its grid, in 3 of 6 outer folds" in message


def test_two_values_and_categories_have_no_edges():
    assert grid_edges(_folds([1.0, 1.0]), {"C": [0.1, 1.0]}).empty
    grid = {"max_depth": [None, 3, 5]}
    assert grid_edges(_folds([None, 3, 3], "max_depth"), grid).empty


def test_a_pipeline_parameter_is_found_by_its_short_name():
    edges = grid_edges(_folds([100.0, 100.0, 1.0], "alpha"), {"alpha": [1, 10, 100]})
    assert edges.at["alpha", "at_highest"] == 2


def test_nested_cv_warns_when_the_optimum_may_lie_beyond_the_grid(small_cohort):
    """The regularisation chosen at the end of its grid in most folds: once silent
    (SVM C at the bottom of its grid in 50 of 50 folds)."""
    model = tp.ResponseClassifier(
        "demographics", param_grid={"C": [1e-4, 1e-3, 1e-2]}, inner_cv=3
    )
    with pytest.warns(
        tp.GridEdgeWarning, match=r"C = 0.0001, the lowest .* in \d+ of 10"
    ):
        result = tp.nested_cross_validate(
            model, small_cohort.X, small_cohort.y, n_repeats=2
        )
    assert result.grid_edges().at["C", "at_lowest"] >= 4
    assert result.info["param_grid"] == {"C": [1e-4, 1e-3, 1e-2]}
