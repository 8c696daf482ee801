"""Modality prediction: which treatment suits this patient."""

from txpredict.modality._evaluate import SelectionResult, evaluate_selection
from txpredict.modality._selector import ModalitySelector

__all__ = ["ModalitySelector", "SelectionResult", "evaluate_selection"]
