"""Evaluation: metrics (and, with the nested-CV harness, comparisons and tests)."""

from txpredict.evaluation._metrics import sensitivity_score, specificity_score

__all__ = ["sensitivity_score", "specificity_score"]
