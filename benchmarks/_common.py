"""Helpers shared by the benchmark scripts: timing, machine info, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

# joblib's worker processes import by name what a script imported from a
# sibling script (``from calibration import population``): they need this
# folder on their path, which they inherit from the environment.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])
)


def time_runs(function, repeats: int) -> list[float]:
    """Wall times (s) of ``repeats`` calls (shared machines: report medians)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def median(times: list[float]) -> float:
    """Median of a list of wall times."""
    return statistics.median(times)


def machine() -> dict:
    """What the numbers were measured on."""
    packages = [
        "txpredict",
        "numpy",
        "scipy",
        "scikit-learn",
        "nilearn",
        "nibabel",
        "isal",
    ]
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "packages": {name: version(name) for name in packages},
    }


def write_result(name: str, payload: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically."""
    from txpredict._io import write_text_atomic

    path = RESULTS / f"{name}.json"
    write_text_atomic(path, json.dumps(payload, indent=2, default=str) + "\n")
    return path


def write_parts(name: str, result: dict, replicates=None) -> Path:
    """Write ``results/<name>.json`` (and ``<name>_replicates.csv``), atomically.

    A run of some parts keeps the saved results (and run description) of
    the others; ``replicates`` (a DataFrame), when given, replaces the CSV.
    """
    from txpredict._io import write_text_atomic

    path = RESULTS / f"{name}.json"
    if path.exists():
        previous = json.loads(path.read_text())
        info = {**previous.get("info", {}), **result.get("info", {})}
        result = {**previous, **result, "info": info}
    write_text_atomic(path, json.dumps(result, indent=1, default=str) + "\n")
    if replicates is not None:
        write_text_atomic(
            RESULTS / f"{name}_replicates.csv",
            replicates.to_csv(index=False, float_format="%.5g"),
        )
    return path


def fit_nilearn_decoder(images, y, c_grid):
    """Nilearn's Decoder as users run it on voxels, matched to txpredict's setup.

    A linear SVC (``estimator="svc"``) over ``c_grid`` by 5-fold CV on the
    ROC AUC, on the MNI brain mask of the images' grid, no screening and no
    standardisation (txpredict centres voxels and keeps all of them).
    """
    import warnings

    import nibabel as nib
    import numpy as np
    from nilearn.decoding import Decoder

    import txpredict as tp
    from txpredict._images import mni_brain_mask

    grid = tp.Grid.of(nib.load(images[0]))
    mask = nib.Nifti1Image(mni_brain_mask(grid).astype(np.uint8), grid.affine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Decoder(
            estimator="svc",
            mask=mask,
            cv=5,
            param_grid={"C": c_grid},
            screening_percentile=100,
            standardize=None,
            scoring="roc_auc",
        ).fit(list(images), y)
