"""``txpredict run CONFIG.toml``: a whole analysis, written to one output folder."""

from __future__ import annotations

from pathlib import Path

from txpredict.run._modality import run_modality
from txpredict.run._regression import run_regression
from txpredict.run._response import run_response

#: The orchestrator of each ``task`` of a configuration.
TASK_RUNNERS = {
    "response": run_response,
    "modality": run_modality,
    "regression": run_regression,
}


def run_analysis(config: dict, *, progress=print) -> Path:
    """Run the analysis a configuration (from :func:`read_config`) describes.

    Returns the output folder. Nothing is written unless the analysis
    succeeds; a step after it that fails (the final fit, a model file, the
    report) is recorded in ``INCOMPLETE.txt`` and the results are kept. An
    existing non-empty folder is refused unless ``overwrite = true``, and
    even then only the files an earlier txpredict run wrote there are
    replaced: a file of the user's own is never deleted or overwritten.
    """
    return TASK_RUNNERS[config.get("task", "response")](config, progress=progress)
