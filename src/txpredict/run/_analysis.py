"""``txpredict run CONFIG.toml``: a whole analysis, written to one output folder."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from txpredict.run._config import model_settings
from txpredict.run._modality import run_modality
from txpredict.run._plan import check_plan
from txpredict.run._regression import run_regression
from txpredict.run._response import run_response

#: The orchestrator of each ``task`` of a configuration.
TASK_RUNNERS = {
    "response": run_response,
    "modality": run_modality,
    "regression": run_regression,
}


def run_analysis(config: dict, *, progress=print, plan=None, deviations=()) -> Path:
    """Run the analysis a configuration (from :func:`read_config`) describes.

    Returns the output folder. Nothing is written unless the analysis
    succeeds; a step after it that fails (the final fit, a model file, the
    report) is recorded in ``INCOMPLETE.txt`` and the results are kept. An
    existing non-empty folder is refused unless ``overwrite = true``, and
    even then only the files an earlier txpredict run wrote there are
    replaced: a file of the user's own is never deleted or overwritten.

    ``plan``: a preregistered plan (:func:`read_plan`). Before any work the
    run is checked against it (configuration, software, data) and refused
    if it differs, unless ``deviations`` says why; the report lists each
    difference and reason, and the plan is copied into the output folder.

    Parameters
    ----------
    config : dict
        The configuration (:func:`read_config`).
    progress : callable, default=print
        Receives each progress message.
    plan : dict or None, default=None
        A preregistered plan (:func:`read_plan`).
    deviations : sequence of str, default=()
        Why the run may differ from the plan.
    """
    runner = TASK_RUNNERS[config.get("task", "response")]
    checked = None
    if plan is not None:
        progress("Checking the run against its preregistered plan ...")
        checked = (plan, check_plan(plan, config, deviations))
        for item in checked[1].items:
            progress(f"  {item}")
    with analysis_cache(config) as cache:
        return runner(config, progress=progress, cache=cache, plan=checked)


@contextlib.contextmanager
def analysis_cache(config):
    """The feature cache a run's steps share: ``[output] cache``, or a scratch one.

    Without a cache of the user's, a ROI model's images would be read once per
    step (the site check, the model's nested CV, model + demographics): ROI
    means, a few numbers per patient, are kept in a scratch folder for the
    run instead and removed when it ends. Voxel patterns are cached only where
    the user says. The final model keeps the user's setting, never the scratch
    folder.
    """
    chosen = config["output"].get("cache")
    features = model_settings(config)["features"]
    if chosen or features not in ("roi", "roi+demographics"):
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="txpredict-roi-means-") as scratch:
        yield scratch
