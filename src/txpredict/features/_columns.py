"""Checks of the table columns a fitted step reads, fast for whole-brain designs.

A whole-brain design names each of its 235,000 voxel columns; a Python loop
over them (``c in X.columns``, ``list(index)``) costs about a second per call,
and such steps are called at every training set of a nested CV. Index
operations do the same work in hashed, vectorised code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError

_SHOWN = 20  # columns listed in an error message


def present_columns(X, columns, owner, fix="") -> pd.Index:
    """``columns`` as an Index, after checking that ``X`` has all of them.

    Raises
    ------
    TxpredictError
        Naming the missing columns, the columns ``X`` has (the first few of
        them) and ``fix``.
    """
    columns = pd.Index(columns)
    missing = columns[~columns.isin(X.columns)]
    if len(missing):
        shown = list(map(str, X.columns[:_SHOWN]))
        more = f" and {len(X.columns) - _SHOWN} more" if len(X.columns) > _SHOWN else ""
        raise TxpredictError(
            f"{owner}: column(s) {list(map(str, missing))} are not in X; its columns "
            f"are {shown}{more}. {fix}".rstrip()
        )
    return columns


def plain_names(columns) -> np.ndarray:
    """Column names as a plain array, for a fitted step to keep.

    Not a pandas Index: a fitted model is saved with skops, which cannot save
    the pandas internals an Index carries; and not a list, which scikit-learn's
    ``clone`` copies name by name (seconds for a whole brain's voxels).

    Examples
    --------
    >>> plain_names(pd.Index(["a", "b"]))
    array(['a', 'b'], dtype='<U1')
    """
    names = list(columns)
    if all(isinstance(name, str) for name in names):
        return np.array(names, dtype=str)
    return np.array(names, dtype=object)  # numbers stay numbers, not '1'
