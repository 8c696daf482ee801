"""Exceptions raised by txpredict.

Every error names the subject, file, column or parameter at fault and says how to
fix it. They subclass :class:`ValueError` so code written against scikit-learn's
conventions keeps working.
"""


class TxpredictError(ValueError):
    """Base class of every txpredict error about user input."""


class CohortError(TxpredictError):
    """A participants table or dataset folder that cannot be used as it is."""


class ImageError(TxpredictError):
    """An image that is missing, unreadable or has non-finite values."""


class DimensionError(ImageError):
    """An image with the wrong number of dimensions (not 3D or 4D)."""


class GridMismatchError(ImageError):
    """Images of one cohort that are not on the same voxel grid."""


class RoiError(TxpredictError):
    """A region of interest that is empty or falls outside the brain mask."""


class IncompleteOutputError(TxpredictError):
    """The analysis finished and its results were written, but a later step failed.

    Saving the final model, rendering the report or writing a map: the
    results already computed are in the output folder, with
    ``INCOMPLETE.txt`` saying what is missing and why.
    """
