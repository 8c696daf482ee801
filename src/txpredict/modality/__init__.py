"""Modality prediction: which treatment suits this patient."""

from txpredict.modality._coefficients import selector_coefficients
from txpredict.modality._compare import compare_selections
from txpredict.modality._evaluate import evaluate_selection
from txpredict.modality._result import SelectionResult
from txpredict.modality._selector import ModalitySelector
from txpredict.modality._uplift import qini_curve

__all__ = [
    "ModalitySelector",
    "SelectionResult",
    "compare_selections",
    "evaluate_selection",
    "qini_curve",
    "selector_coefficients",
]
