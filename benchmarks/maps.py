"""Weight and pattern maps: planted region found, stable only where it should be, speed.

Recovery: cohorts of n = 100, 200, 400 drawn from the prognostic synthetic
population (``effect="prognostic"``: response depends on the cuneus latent
activation, logit coefficient 1.0, which enters each scan as a Gaussian blob,
SD 6 mm, around the two cuneus ROI centres; severity, age and a rest-only
coupling term do not show in the 3D maps), on FSL's 4 mm grid (~29,000
brain voxels), 10 replicate cohorts per size. Whole-brain L2 logistic
regression on centred voxels (txpredict's default for voxels): the outer-fold
models of a nested 5 x 5 CV (C tuned in the inner folds, Gram route;
``return_maps=True``), and at the C they chose most often the final model
(``coef_img_``, ``pattern_img_``) and 50 bootstrap refits
(:func:`txpredict.bootstrap_maps`). For each map, the AUC of |value| ranking
the planted voxels (cuneus blob weight >= 0.5) above the voxels outside every
region's blob, and the distance of the peak |value| from the nearest cuneus
centre (mm).

Null: ``effect="none"`` cohorts (n = 100, 20 replicates): the share of brain
voxels whose |bootstrap ratio|, |fold CV ratio| or |fold jackknife z|
(``ModelMaps.values(..., "jackknife_z")``) exceeds 1.96 or 3 (nominal 5% and
0.27% were the statistic a z-score); with signal, the share of the planted
voxels that pass (power).

Speed: 100 patients x 235,375 voxels (FSL 2 mm grid): txpredict's linear SVM
(the C grid of 5 values tuned by inner 5-fold CV) in a nested 5 x 5 CV with
every outer-fold model's maps, plus 100 bootstrap refits of the final model
(one ``nested_cross_validate(..., return_maps=True, n_bootstraps=100)`` call),
next to nilearn's ``Decoder(estimator="svc")`` producing its ``coef_img_``
(the mean weights of its 5 fold models, C chosen on the same folds: not
nested; no screening, no standardisation) on the same images. Medians of 3
runs.

Moderation: ``effect="interaction"`` cohorts (the dACC latent moderates the
arm effect, the cuneus is prognostic) of n = 200 and 400 on the 4 mm grid,
``--replicates`` each: the whole-brain T-learner selector (C tuned per arm
over 3 values) and its moderation map (weights and Haufe pattern of the
difference of the arms' scores). AUC of |value| ranking the dACC blob's
voxels, and the cuneus blob's, above the voxels outside every blob; distance
of the peak from the nearest dACC centre.

Jackknife: ``effect="none"`` cohorts (n = 100, 4 mm grid, 20 replicates), the
fold maps of the default logistic model at a fixed C = 0.01 and tuned over the
5 values, with 1 and 5 repeats of the outer CV: the share of voxels whose
|jackknife z| (``values(..., "jackknife_z")``) or |CV ratio| exceeds 1.96 and
3, with its Monte-Carlo SE over cohorts.

Figure: the report's glass brains (mean pattern of the outer-fold models and
its CV ratio) for one prognostic cohort of 200 patients on the 4 mm grid,
written to ``benchmarks/results/maps_figure.png`` for the README.

Usage: ``python benchmarks/maps.py [--quick] [--replicates 10]
[--parts recovery,jackknife,speed,moderation,figure]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

import txpredict as tp
from _common import (
    RESULTS,
    fit_nilearn_decoder,
    machine,
    median,
    time_runs,
    write_parts,
)
from txpredict._images import mni_brain_mask
from txpredict._io import write_bytes_atomic
from txpredict.datasets._synthetic import _blob_weights
from txpredict.features._rois import masked_voxel_indices

SIZES = (100, 200, 400)
C_GRID = [0.001, 0.01, 0.1, 1.0, 10.0]
N_BOOTSTRAPS = 50
#: The moderation part's grid (three values: each arm tunes its own C).
MODERATION_C_GRID = [0.01, 0.1, 1.0]
THRESHOLDS = (1.96, 3.0)


def _voxels(mask):
    """Fortran-order flat indices of the extractor's voxels, in its order (C order)."""
    return masked_voxel_indices(mask)


def _truth(grid, mask, region="cuneus"):
    """Voxel labels in the extractor's voxel order: ``region``'s blob, or no blob."""
    blobs = _blob_weights(grid, mni_brain_mask(grid).ravel(order="F"))
    weight = {}
    for name, (index, values) in blobs.items():
        full = np.zeros(grid.n_voxels, dtype=np.float32)  # Fortran-order flat
        full[index] = values
        weight[name] = full[_voxels(mask)]
    planted = weight[region] >= 0.5
    outside = np.all([w < 0.01 for w in weight.values()], axis=0)
    return planted, outside


def _auc(values, planted, outside):
    score = np.abs(values)
    positives, negatives = score[planted], score[outside]
    ranks = pd.Series(np.concatenate([positives, negatives])).rank().to_numpy()
    u = ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2
    return u / (len(positives) * len(negatives))


def _peak_distance(values, coords, region="cuneus"):
    centres = np.array([r.center for r in tp.default_rois() if region in r.name])
    peak = coords[np.argmax(np.abs(values))]
    return float(np.min(np.linalg.norm(centres - peak, axis=1)))


def replicate(effect, n, seed, grid="fsl4"):
    cohort = tp.make_synthetic_cohort(n, effect=effect, grid=grid, random_state=seed)
    tuned = tp.ResponseClassifier("wholebrain", param_grid={"C": C_GRID})
    result = tp.nested_cross_validate(
        tuned, cohort.X, cohort.y, n_repeats=1, return_maps=True, random_state=seed
    )
    chosen = Counter(result.best_params()["C"]).most_common(1)[0][0]
    model = tp.ResponseClassifier("wholebrain", param_grid={"C": [chosen]})
    final = model.fit(cohort.X, cohort.y)
    boot = tp.bootstrap_maps(
        model, cohort.X, cohort.y, n_bootstraps=N_BOOTSTRAPS, random_state=seed
    )
    maps = {
        "weights": final.coef_voxels_,
        "pattern": final.pattern_voxels_,
        "fold_mean_pattern": result.maps.values("pattern", "mean"),
        "fold_ratio_pattern": result.maps.values("pattern", "ratio"),
        "fold_jackknife_z_pattern": result.maps.values("pattern", "jackknife_z"),
        "fold_jackknife_z_weights": result.maps.values("weights", "jackknife_z"),
        "bootstrap_ratio_pattern": boot.values("pattern", "ratio"),
        "bootstrap_ratio_weights": boot.values("weights", "ratio"),
    }
    extractor = final.extractor_
    grid = extractor.grid_
    planted, outside = _truth(grid, extractor.output_mask_)
    coords = grid.world_coordinates()[_voxels(extractor.output_mask_)]
    row = {"effect": effect, "n": n, "seed": seed, "chosen_C": chosen}
    for name, values in maps.items():
        if effect != "none":
            row[f"{name}_auc"] = _auc(values, planted, outside)
            row[f"{name}_peak_mm"] = _peak_distance(values, coords)
        if "ratio" in name or "_z_" in name:
            for t in THRESHOLDS:
                row[f"{name}_above_{t}"] = float(np.mean(np.abs(values) > t))
                if effect != "none":  # power: the planted voxels that pass
                    passed = np.abs(values[planted]) > t
                    row[f"{name}_planted_above_{t}"] = float(np.mean(passed))
    return row


def speed_part(repeats, n, grid):
    with tempfile.TemporaryDirectory(prefix="txpredict_maps_") as work:
        # On disk, as users' scans are: both tools read the same files.
        cohort = tp.make_synthetic_cohort(
            n, effect="prognostic", grid=grid, random_state=0, out_dir=Path(work) / "c"
        )
        model = tp.ResponseClassifier(
            "wholebrain", "linear_svm", param_grid={"C": C_GRID}
        )

        def ours():
            # Nested CV with every fold model's maps and 100 bootstraps of
            # the final model, in one call: the images are read once.
            result = tp.nested_cross_validate(
                model,
                cohort.X,
                cohort.y,
                n_repeats=1,
                return_maps=True,
                n_bootstraps=100,
            )
            result.maps.to_img("weights", "mean")
            result.bootstrap_maps.to_img("pattern", "ratio")

        def nilearn_decoder():
            images = list(cohort.X["image"])
            return fit_nilearn_decoder(images, cohort.y.to_numpy(), C_GRID).coef_img_

        times = {
            "txpredict_nested_cv_fold_maps_and_100_bootstraps": time_runs(
                ours, repeats
            ),
            "nilearn_decoder_coef_img": time_runs(nilearn_decoder, repeats),
        }
    medians = {k: median(v) for k, v in times.items()}
    return {
        "n_subjects": n,
        "grid": grid,
        "runs_seconds": times,
        "median_seconds": medians,
        "decoder_vs_txpredict": medians["nilearn_decoder_coef_img"]
        / medians["txpredict_nested_cv_fold_maps_and_100_bootstraps"],
    }


def moderation_replicate(n, seed, grid="fsl4"):
    """A selector's moderation map on a dACC x arm cohort: which region it finds.

    ``effect="interaction"``: the dACC latent moderates the arm effect, the
    cuneus is prognostic. The moderation pattern (the Haufe pattern of the
    difference of the arms' scores) should rank the dACC blob's voxels above
    the voxels outside every blob; the cuneus, prognostic under both arms,
    much less.
    """
    cohort = tp.make_synthetic_cohort(
        n, effect="interaction", grid=grid, random_state=seed
    )
    selector = tp.ModalitySelector("wholebrain", param_grid={"C": MODERATION_C_GRID})
    selector.fit(cohort.X, cohort.y)
    extractor = selector.extractor_
    coords = extractor.grid_.world_coordinates()[_voxels(extractor.output_mask_)]
    row = {"n": n, "seed": seed}
    for kind in ("pattern", "weights"):
        values = selector.maps_["SSRI+CBT - CBT"][0 if kind == "weights" else 1]
        for region in ("dACC", "cuneus"):
            planted, outside = _truth(extractor.grid_, extractor.output_mask_, region)
            row[f"moderation_{kind}_{region}_auc"] = _auc(values, planted, outside)
        row[f"moderation_{kind}_peak_to_dACC_mm"] = _peak_distance(
            values, coords, "dACC"
        )
    return row


#: The jackknife part's models: fixed hyperparameters, and tuned as users run them.
JACKKNIFE_MODELS = {
    "logistic_C_0.01": {"C": [0.01]},
    "logistic_tuned": {"C": C_GRID},
}


def jackknife_replicate(n, seed, grid, n_repeats):
    """One null cohort: the share of voxels each fold-map statistic passes."""
    cohort = tp.make_synthetic_cohort(n, effect="none", grid=grid, random_state=seed)
    rows = []
    for name, param_grid in JACKKNIFE_MODELS.items():
        model = tp.ResponseClassifier("wholebrain", param_grid=param_grid)
        maps = tp.nested_cross_validate(
            model,
            cohort.X,
            cohort.y,
            n_repeats=n_repeats,
            return_maps=True,
            random_state=seed,
        ).maps
        row = {"model": name, "n_repeats": n_repeats, "seed": seed}
        for kind in ("pattern", "weights"):
            for statistic in ("jackknife_z", "ratio"):
                values = np.abs(maps.values(kind, statistic))
                for t in THRESHOLDS:
                    row[f"{kind}_{statistic}_above_{t}"] = float(np.mean(values > t))
        rows.append(row)
    return rows


def jackknife_part(replicates, n, grid, repeats=(1, 5)):
    """Null calibration of the fold maps' jackknife z (and the CV ratio)."""
    rows = [
        row
        for n_repeats in repeats
        for r in range(replicates)
        for row in jackknife_replicate(n, 3000 + r, grid, n_repeats)
    ]
    raw = pd.DataFrame(rows)
    statistics = [c for c in raw.columns if "_above_" in c]
    grouped = raw.groupby(["model", "n_repeats"])[statistics]
    summary = grouped.mean().add_suffix("_mean")
    mc = grouped.std(ddof=1) / np.sqrt(grouped.size().to_numpy()[:, None])
    summary = summary.join(mc.add_suffix("_mc_se"))
    summary["cohorts"] = grouped.size()
    return summary.reset_index()


def figure_part(n, grid, seed=7):
    """The README's map figure: the report's glass brains of one planted cohort.

    Returns the PNG bytes of the outer-fold models' mean pattern and its CV
    ratio (``txpredict.report``'s figure), for a prognostic cohort of ``n``.
    """
    import base64

    from txpredict.report._figures import maps_figure

    cohort = tp.make_synthetic_cohort(
        n, effect="prognostic", grid=grid, random_state=seed
    )
    result = tp.nested_cross_validate(
        tp.ResponseClassifier("wholebrain", param_grid={"C": C_GRID}),
        cohort.X,
        cohort.y,
        n_repeats=1,
        return_maps=True,
        random_state=seed,
    )
    return base64.b64decode(maps_figure(result.maps))


def summarise(raw):
    numeric = raw.drop(columns=["seed"]).groupby(["effect", "n"])
    summary = numeric.agg(["mean", "std", "count"])
    summary.columns = [f"{a}_{b}" for a, b in summary.columns]
    return summary.reset_index()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--parts", default="recovery,jackknife,speed,moderation,figure")
    args = parser.parse_args(argv)
    sizes, speed = SIZES, (3, 100, "fsl2")
    if args.quick:
        args.replicates, sizes, speed = 1, (60,), (1, 40, "fsl6")
    parts = args.parts.split(",")
    start = time.perf_counter()
    result = {}
    if "recovery" in parts:
        rows = []
        settings = [("prognostic", n) for n in sizes] + [("none", sizes[0])]
        for effect, n in settings:
            offset = 500 if effect == "none" else 0  # its own cohorts
            # Twice the null cohorts: their share of "stable" voxels varies
            # from cohort to cohort (with the C each fold chose).
            replicates = args.replicates * (2 if effect == "none" else 1)
            for r in range(replicates):
                seed = 1000 * n + offset + r
                rows.append(
                    replicate(effect, n, seed, "fsl6" if args.quick else "fsl4")
                )
            print(f"{effect} n={n}: {replicates} replicates", flush=True)
        raw = pd.DataFrame(rows)
        summary = summarise(raw)
        pd.set_option("display.width", 250)
        print(summary.round(3).T.to_string())
        result["recovery"] = summary.to_dict(orient="records")
    if "moderation" in parts:
        moderation_sizes = (60,) if args.quick else (200, 400)
        rows = [
            moderation_replicate(n, 2000 * n + r, "fsl6" if args.quick else "fsl4")
            for n in moderation_sizes
            for r in range(args.replicates)
        ]
        frame = pd.DataFrame(rows).drop(columns="seed")
        moderation = frame.groupby("n").agg(["mean", "std"])
        moderation.columns = [f"{a}_{b}" for a, b in moderation.columns]
        print(moderation.round(3).T.to_string())
        result["moderation"] = moderation.reset_index().to_dict(orient="records")
    if "jackknife" in parts:
        quick = (1, 40, "fsl6", (1, 2))
        jackknife = jackknife_part(
            *(quick if args.quick else (2 * args.replicates, 100, "fsl4"))
        )
        print(jackknife.round(4).T.to_string())
        result["jackknife"] = jackknife.to_dict(orient="records")
    png = None
    if "figure" in parts:
        png = figure_part(*((60, "fsl6") if args.quick else (200, "fsl4")))
        print(f"map figure: {len(png)} bytes")
    if "speed" in parts:
        result["speed"] = speed_part(*speed)
        print(json.dumps(result["speed"]["median_seconds"], indent=1))
        print(f"Decoder / txpredict: {result['speed']['decoder_vs_txpredict']:.1f}")
    info = {
        "replicates": args.replicates,
        "sizes": list(sizes),
        "n_bootstraps": N_BOOTSTRAPS,
        "wall_seconds": time.perf_counter() - start,
        "machine": machine(),
    }
    result["info"] = {part: info for part in parts}
    print(f"wall time {info['wall_seconds']:.0f} s")
    if args.quick:
        return
    if png is not None:
        figure = RESULTS / "maps_figure.png"
        write_bytes_atomic(figure, png)
        print(f"wrote {figure}")
    if set(parts) - {"figure"}:
        path = write_parts("maps", result, raw if "recovery" in parts else None)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
