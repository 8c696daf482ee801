"""``txpredict run``, ``predict`` and ``validate`` behind the command line.

Configuration (:func:`read_config`), preregistered plans (:func:`make_plan`,
:func:`read_plan`, :func:`check_plan`), the three task orchestrators over one
declared table of outputs (:data:`OUTPUTS`), and predictions from a saved
model (:func:`predict_images`).
"""

from txpredict.run._analysis import TASK_RUNNERS, run_analysis
from txpredict.run._config import as_toml, read_config, schema
from txpredict.run._outputs import FOLD_MODERATION_FILES, MAP_FILES, OUTPUTS
from txpredict.run._plan import (
    check_plan,
    describe_plan,
    make_plan,
    read_plan,
    write_plan,
)
from txpredict.run._predict import (
    NO_PREFERENCE,
    chance_warning,
    predict_images,
    selection_table,
    selection_warning,
    subject_labels,
)
from txpredict.run._prepare import checks_text, roi_means, site_check

__all__ = [
    "FOLD_MODERATION_FILES",
    "MAP_FILES",
    "NO_PREFERENCE",
    "OUTPUTS",
    "TASK_RUNNERS",
    "as_toml",
    "chance_warning",
    "check_plan",
    "checks_text",
    "describe_plan",
    "make_plan",
    "predict_images",
    "read_config",
    "read_plan",
    "roi_means",
    "run_analysis",
    "schema",
    "selection_table",
    "selection_warning",
    "site_check",
    "subject_labels",
    "write_plan",
]
