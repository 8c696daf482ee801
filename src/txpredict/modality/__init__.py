"""Modality prediction: which treatment suits this patient."""

from txpredict.modality._evaluate import (
    SelectionResult,
    compare_selections,
    evaluate_selection,
)
from txpredict.modality._selector import ModalitySelector

__all__ = [
    "ModalitySelector",
    "SelectionResult",
    "compare_selections",
    "evaluate_selection",
]
