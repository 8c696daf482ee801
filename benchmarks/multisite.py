"""Multi-site studies: what site correction does to the estimate, and what it costs.

A 4-site synthetic study (n = 240; ``make_synthetic_cohort(n_sites=4)``: each
site's scanner shifts every region and adds its own noise level, and each site
recruits its own patients and has its own response rate, so site is
confounded with outcome). The ROI model (L2 logistic regression, C tuned by
inner 5-fold CV, on the 9 default ROI means) with

(a) no correction,
(b) residualisation of the ROI values on site, age and sex inside the folds
    (``confounds=[...], deconfound="residualize"``),
(c) ComBat inside the folds (``harmonize="combat"``),
(d) the same two steps wrongly fitted once on the whole cohort before the
    cross-validation (the leak users make),

is evaluated by nested 5-fold CV (5 x 5, one repeat) and by leave-site-out,
and compared with the truth: the balanced accuracy of the model fitted to the
whole study on 2,000 new patients of the same four sites (what nested CV
estimates: the next patient at these clinics) and on 2,000 patients of four
new sites (what leave-site-out estimates: the next clinic). A leaky variant's
model fitted to the whole study is the in-fold variant's, so they share the
truth. With a brain signal (``effect="prognostic"``) and without one
(``effect="none"``: only the scanner and the site's response rate), the
benchmark counts how often each variant declares the scan useful: its
balanced accuracy's 95% interval above 0.5 ("better than chance"), and
``compare()`` against the demographics-only model (age, sex, severity,
site) significant at alpha = 0.05 in the model's favour ("adds to
demographics").

Speed: ComBat on whole-brain features (240 patients x 235,375 voxels of the
FSL 2 mm grid, four sites): txpredict's ``ComBat`` fit + transform next to
neuroCombat (Fortin et al. 2018; the reference implementation) on the same
matrix, and the number of fits the nested 5 x 5 CV makes (one per outer
training set and per inner training set and candidate), next to the cost of
the whole-brain nested CV itself.

Usage: ``python benchmarks/multisite.py [--quick] [--replicates 20]``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import joblib
import numpy as np
import pandas as pd

import txpredict as tp
from _common import machine, median, time_runs, write_parts
from txpredict.model_selection._gram import gram_matrix
from txpredict.model_selection._schemes import repeat_seeds

N_SUBJECTS = 240
N_SITES = 4
N_TRUTH = 2000
CONFOUNDS = ["site", "age", "sex"]
DEMOGRAPHICS = ["age", "sex", "baseline_severity", "site"]
#: The 9 default ROI means (RoiFeatures' columns).
ROI = [f"{roi.name}_mean" for roi in tp.default_rois()]
#: The in-fold variants, as ResponseClassifier options.
IN_FOLDS = {
    "a_no_correction": {},
    "b_residualize_in_folds": {"confounds": CONFOUNDS, "deconfound": "residualize"},
    "c_combat_in_folds": {"harmonize": "combat"},
}
#: The leaky variants: the step fitted on the whole study, then plain CV.
LEAKY = {
    "d_residualize_whole_cohort": "b_residualize_in_folds",
    "d_combat_whole_cohort": "c_combat_in_folds",
}


def roi_table(cohort):
    """Demographics and ROI means of a cohort (extraction learns nothing)."""
    roi = tp.RoiFeatures(verbose=0).set_output(transform="pandas")
    table = pd.concat(
        [cohort.X.drop(columns="image"), roi.fit_transform(cohort.X)], axis=1
    )
    return table


def model(**options):
    return tp.ResponseClassifier(tp.PrecomputedFeatures(ROI), **options)


def leaky_table(table, variant):
    """The whole study's ROI values corrected once, before any split."""
    if variant == "d_combat_whole_cohort":
        step = tp.ComBat(ROI, site="site")
    else:
        step = tp.ConfoundRemover(ROI, confounds=CONFOUNDS)
    corrected = table.copy()
    corrected[ROI] = np.asarray(step.fit_transform(table))
    return corrected


def _external_ba(fitted, table, y):
    with warnings.catch_warnings():
        # Expected here: new sites and a few ages outside the study's range.
        warnings.simplefilter("ignore", UserWarning)
        validation = tp.validate_external(fitted, table, y)
    return float(validation.table.at["balanced_accuracy", "estimate"])


def replicate(effect, seed, truths, n_subjects):
    """Every variant on one study: estimates, truths and verdicts."""
    cohort = tp.make_synthetic_cohort(
        n_subjects, effect=effect, n_sites=N_SITES, grid="fsl6", random_state=seed
    )
    table, y = roi_table(cohort), cohort.y
    cv = {"outer_cv": 5, "n_repeats": 1, "random_state": int(seed)}
    baseline = tp.nested_cross_validate(
        tp.ResponseClassifier("demographics", demographic_columns=DEMOGRAPHICS),
        table,
        y,
        **cv,
    )
    rows = []
    for variant in [*IN_FOLDS, *LEAKY]:
        options = IN_FOLDS[LEAKY.get(variant, variant)]
        if variant in LEAKY:
            data, estimator = leaky_table(table, variant), model()
        else:
            data, estimator = table, model(**options)
        nested = tp.nested_cross_validate(estimator, data, y, **cv)
        site_out = tp.nested_cross_validate(
            estimator,
            data,
            y,
            outer_cv="leave-site-out",
            groups="site",
            inner_groups=False,  # 3 training sites: too few for 5 grouped folds
        )
        summary = nested.summary()
        comparison = tp.compare(nested, baseline, names=(variant, "demographics"))
        fitted = model(**options).fit(table, y)
        same_sites, new_sites = truths
        rows.append(
            {
                "effect": effect,
                "seed": int(seed),
                "variant": variant,
                "nested_ba": summary.at["balanced_accuracy", "estimate"],
                "nested_ba_low": summary.at["balanced_accuracy", "ci_low"],
                "nested_auc": summary.at["auc", "estimate"],
                "leave_site_out_ba": site_out.summary().at[
                    "balanced_accuracy", "estimate"
                ],
                "true_ba_same_sites": _external_ba(fitted, *same_sites),
                "true_ba_new_sites": _external_ba(fitted, *new_sites),
                "brain_ba": cohort.info["brain_balanced_accuracy"],
                "better_than_chance": bool(
                    summary.at["balanced_accuracy", "ci_low"] > 0.5
                ),
                "adds_to_demographics": comparison.a_is_better,
            }
        )
    return rows


def truth_cohorts(effect, n_truth, n_jobs):
    """New patients of the study's sites and of four new sites."""
    same = tp.make_synthetic_cohort(
        n_truth,
        effect=effect,
        n_sites=N_SITES,
        grid="fsl6",
        random_state=10**6,
        n_jobs=n_jobs,
    )
    new = tp.make_synthetic_cohort(
        n_truth,
        effect=effect,
        site_names=[f"new_site{i}" for i in range(1, N_SITES + 1)],
        grid="fsl6",
        random_state=10**6 + 1,
        n_jobs=n_jobs,
    )
    return (roi_table(same), same.y), (roi_table(new), new.y)


def accuracy_part(replicates, n_subjects, n_truth, n_jobs):
    """The study with and without brain signal."""
    rows = []
    designs = [("prognostic", n_subjects), ("none", n_subjects)]
    truths = {}
    for effect, n in designs:
        if effect not in truths:
            truths[effect] = truth_cohorts(effect, n_truth, n_jobs)
        seeds = repeat_seeds([7 if effect == "none" else 8, n], replicates)
        out = joblib.Parallel(n_jobs=n_jobs)(
            joblib.delayed(replicate)(effect, seed, truths[effect], n) for seed in seeds
        )
        rows += [{"n": n, **row} for rep in out for row in rep]
        print(f"{effect}, n={n}: {replicates} studies", flush=True)
    raw = pd.DataFrame(rows)
    mc = lambda s: s.std(ddof=1) / np.sqrt(len(s))  # noqa: E731
    summary = raw.groupby(["effect", "n", "variant"]).agg(
        studies=("seed", "size"),
        nested_ba=("nested_ba", "mean"),
        nested_ba_mc_se=("nested_ba", mc),
        leave_site_out_ba=("leave_site_out_ba", "mean"),
        leave_site_out_ba_mc_se=("leave_site_out_ba", mc),
        true_ba_same_sites=("true_ba_same_sites", "mean"),
        true_ba_new_sites=("true_ba_new_sites", "mean"),
        brain_ba=("brain_ba", "mean"),
        better_than_chance=("better_than_chance", "mean"),
        adds_to_demographics=("adds_to_demographics", "mean"),
    )
    summary["nested_bias"] = summary["nested_ba"] - summary["true_ba_same_sites"]
    summary["leave_site_out_bias"] = (
        summary["leave_site_out_ba"] - summary["true_ba_new_sites"]
    )
    return raw, summary.reset_index()


def speed_part(n_subjects, grid, repeats):
    """ComBat on a whole-brain matrix: txpredict's vs neuroCombat's."""
    from neuroCombat import neuroCombat

    cohort = tp.make_synthetic_cohort(
        n_subjects, n_sites=N_SITES, grid=grid, random_state=0, n_jobs=2
    )
    voxels = tp.WholeBrainFeatures(verbose=0).fit_transform(cohort.X)
    sites = cohort.X["site"].to_numpy()
    frame = pd.DataFrame(voxels, index=cohort.X.index)
    frame.columns = [f"v{i}" for i in range(voxels.shape[1])]
    features = list(frame.columns)
    frame["site"] = sites

    def ours():
        return tp.ComBat(features, site="site").fit_transform(frame)

    def reference():
        return neuroCombat(
            dat=voxels.T,
            covars=pd.DataFrame({"site": sites}),
            batch_col="site",
        )["data"].T

    difference = float(np.abs(ours() - reference()).max())
    times = {
        "txpredict_combat": time_runs(ours, repeats),
        "neurocombat": time_runs(reference, repeats),
    }
    # The whole-brain nested 5 x 5 CV (two values of C) without harmonisation
    # (Gram route), with ComBat in the folds as users call it (Gram route: one
    # ComBat fit per inner and outer training set, 30 in all), and the same
    # with the plain scikit-learn route (GridSearchCV refits the pipeline,
    # ComBat included, per inner training set and candidate: 5 * (5 * 2 + 1)
    # = 55 fits), once: it takes minutes.
    grid_c = {"C": [0.01, 1.0]}
    plain = tp.ResponseClassifier("wholebrain", param_grid=grid_c)
    harmonised = tp.ResponseClassifier(
        "wholebrain", param_grid=grid_c, harmonize="combat"
    )

    def nested(model, **options):
        return tp.nested_cross_validate(
            model, cohort.X, cohort.y, n_repeats=1, **options
        )

    times["wholebrain_nested_cv_5x5"] = time_runs(lambda: nested(plain), repeats)
    # The floor of any exact route with a per-training-set preparation: the
    # plain CV forms one Gram matrix for everything; with ComBat each of the
    # 30 training sets (5 outer of 4/5, 25 inner of 16/25 of the cohort)
    # needs its own, with its other rows.
    sizes = [(n_subjects * 4 // 5, n_subjects)] * 5 + [
        (n_subjects * 16 // 25, n_subjects * 4 // 5)
    ] * 25
    prepared = np.ascontiguousarray(voxels, dtype=np.float64)

    def gram_products():
        for n_train, n_rows in sizes:
            gram_matrix(prepared[:n_train])
            gram_matrix(prepared[n_train:n_rows], prepared[:n_train])

    times["gram_matrices_of_30_training_sets"] = time_runs(gram_products, repeats)
    times["wholebrain_nested_cv_5x5_combat"] = time_runs(
        lambda: nested(harmonised), repeats
    )
    fast = nested(harmonised)
    start = time.perf_counter()
    slow = nested(harmonised, fast_path=False)
    times["wholebrain_nested_cv_5x5_combat_sklearn_route"] = [
        time.perf_counter() - start
    ]
    medians = {k: median(v) for k, v in times.items()}
    fits_per_nested_cv = {g: 5 * (5 * g + 1) for g in (1, 2, 5)}
    return {
        "n_subjects": n_subjects,
        "n_voxels": int(voxels.shape[1]),
        "grid": grid,
        "max_abs_difference_vs_neurocombat": difference,
        "runs_seconds": times,
        "median_seconds": medians,
        "neurocombat_vs_txpredict": medians["neurocombat"]
        / medians["txpredict_combat"],
        "combat_fits_per_nested_cv_by_grid_size_sklearn_route": fits_per_nested_cv,
        "combat_fits_per_nested_cv_txpredict_route": 5 * (5 + 1),
        "combat_nested_cv_routes_max_abs_score_difference": float(
            np.abs(fast.predictions["score"] - slow.predictions["score"]).max()
        ),
        "combat_nested_cv_routes_same_choices": bool(
            fast.best_params().equals(slow.best_params())
        ),
        "sklearn_route_vs_txpredict_combat_nested_cv": medians[
            "wholebrain_nested_cv_5x5_combat_sklearn_route"
        ]
        / medians["wholebrain_nested_cv_5x5_combat"],
        "gram_floor_vs_nested_cv_itself": medians["gram_matrices_of_30_training_sets"]
        / medians["wholebrain_nested_cv_5x5"],
        "combat_cost_vs_nested_cv_itself": (
            medians["wholebrain_nested_cv_5x5_combat"]
            - medians["wholebrain_nested_cv_5x5"]
        )
        / medians["wholebrain_nested_cv_5x5"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--parts", default="accuracy,speed")
    args = parser.parse_args(argv)
    n_subjects, n_truth, speed = N_SUBJECTS, N_TRUTH, (N_SUBJECTS, "fsl2", 3)
    if args.quick:
        # Sites of ~25: every inner training set still holds each site.
        args.replicates, n_subjects, n_truth = 1, 100, 100
        speed = (80, "fsl6", 1)
    parts = args.parts.split(",")
    start = time.perf_counter()
    result = {}
    if "accuracy" in parts:
        raw, summary = accuracy_part(args.replicates, n_subjects, n_truth, args.n_jobs)
        pd.set_option("display.width", 250)
        print(summary.round(3).to_string(index=False))
        result["accuracy"] = summary.to_dict(orient="records")
    if "speed" in parts:
        result["speed"] = speed_part(*speed)
        print(json.dumps(result["speed"]["median_seconds"], indent=1))
        ratio = result["speed"]["neurocombat_vs_txpredict"]
        print(f"neuroCombat / txpredict: {ratio:.1f}")
    info = {
        "replicates": args.replicates,
        "n_subjects": n_subjects,
        "n_sites": N_SITES,
        "n_truth": n_truth,
        "wall_seconds": time.perf_counter() - start,
        "machine": machine(),
    }
    result["info"] = {part: info for part in parts}  # what each part ran on
    print(f"wall time {info['wall_seconds']:.0f} s")
    if args.quick:
        return
    path = write_parts("multisite", result, raw if "accuracy" in parts else None)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
