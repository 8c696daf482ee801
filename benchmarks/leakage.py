"""Leakage screens: how often each planted trap is found; false alarms on clean data.

The screens users get (``txpredict.leakage``, run by ``load_cohort``, the
nested CV, ``validate_external`` and ``txpredict run``), on replicate cohorts:

- **tables** (``screen_table``, as ``load_cohort`` calls it): clean
  participants tables from two generators and layouts, txpredict's synthetic
  trial (``age``, ``sex``, ``baseline_severity``, ``site``) and a depression
  trial written the way its users keep it (``Age``, ``Sex`` M/W, ``site``,
  ``education_years``, ``bmi``, ``illness_months``, ``episodes``, an integer
  ``HAMD_baseline``), n = 40, 100 and 200. Responders are the 50%-reduction
  rule of the pre and post scores. Each clean table then gets one trap at a
  time: the post-treatment score under a suggestive name (``lsas_post``,
  ``HAMD_week12``, ...), the same under a neutral name (``score_b``), the
  outcome recoded as text (``R``/``N``), and the pre-post difference in points.
  The outcome is given as a column (the pre score is not known to be a
  baseline), as in the table that leaked. A continuous outcome (the percent
  change, through ``SymptomChange``: the pre score is a known baseline) gets
  the neutral post score.
- **duplicates**: synthetic cohorts with images (6 mm grid), 1-5% of the
  patients' scans copied under new ids, half exact copies, half re-saved with
  noise (2% of the image's SD per voxel); screened on the ROI means and on the
  whole-brain voxels (``Fingerprints``, as the nested CV does); and an
  external cohort sharing 1-5% of its patients with the training one
  (``ResponseClassifier.training_scans_in``, as ``validate_external`` does).
  Found: every planted pair named; false alarm: any other pair named.
- **sites** (``site_confounding`` on ROI-like features, as ``txpredict run``):
  2-4 sites of n = 100 or 200 patients; the trap, one site recruiting more
  responders (+25 points) with its own scanner (an offset of 1 SD in every
  feature); clean, the sites' scanners differ but not their response rates,
  or their response rates but not their scanners.
- **time**: the screens of one ``txpredict run`` (table, site confounding
  with the ROI means' extraction, duplicates) within the run, at n = 100 on
  the 2 mm grid.

Targets (issue 23): every trap found in >= 99% of cohorts, false alarms on
clean cohorts <= 1%, the screens < 5% of a run's time. Monte-Carlo SEs are
binomial.

Usage: ``python benchmarks/leakage.py [--quick] [--replicates 200] [--n-jobs 2]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import joblib
import nibabel as nib
import numpy as np
import pandas as pd

import txpredict as tp
from _common import machine, median, time_runs, write_result
from txpredict.leakage import (
    Fingerprints,
    screen_table,
    site_confounding,
)

SIZES = (40, 100, 200)
SUGGESTIVE = {
    "synthetic": ["lsas_post", "lsas_w12", "lsas_fu", "LSAS_t2", "post_lsas"],
    "depression": ["HAMD_week12", "hamd_post", "HAMD_end", "hamd_fu6", "HAMD_t2"],
}


# -- tables ----------------------------------------------------------------------
def synthetic_table(n, rng):
    """The synthetic trial of txpredict: table, pre and post scores, responders."""
    cohort = tp.make_synthetic_cohort(
        n, grid="fsl6", random_state=int(rng.integers(2**31))
    )
    table = cohort.X.drop(columns=["image", "treatment"]).reset_index(drop=True)
    pre = table["baseline_severity"].to_numpy(float)
    change = cohort.ground_truth["symptom_reduction"].to_numpy(float)
    post = pre * (1 - change / 100)
    return table, pre, post


def depression_table(n, rng):
    """A depression trial's table as its users write it: integer HAMD scores."""
    age = rng.integers(18, 70, n)
    sex = rng.choice(["M", "W"], n, p=[0.35, 0.65])
    site = rng.choice(["Berlin", "Dresden", "Münster"], n)
    education = rng.integers(8, 21, n)
    bmi = np.round(rng.normal(25, 4, n), 1)
    months = rng.integers(3, 240, n)
    episodes = rng.integers(1, 8, n)
    pre = rng.integers(14, 36, n).astype(float)
    # Prognosis: younger, fewer episodes, milder: more improvement.
    expected = 45 - 0.15 * (age - 40) - 2 * (episodes - 3) - 0.5 * (pre - 24)
    change = np.clip(expected + rng.normal(0, 25, n), -30, 100)
    post = np.clip(np.round(pre * (1 - change / 100)), 0, 52)
    table = pd.DataFrame(
        {
            "Age": age,
            "Sex": sex,
            "site": site,
            "education_years": education,
            "bmi": bmi,
            "illness_months": months,
            "episodes": episodes,
            "HAMD_baseline": pre.astype(int),
        }
    )
    return table, pre, post


GENERATORS = {"synthetic": synthetic_table, "depression": depression_table}
PRE = {"synthetic": "baseline_severity", "depression": "HAMD_baseline"}


def _flags(table, y, *, continuous=False, known_baseline=()):
    candidates = [c for c in table.columns if c not in known_baseline]
    suspects, _ = screen_table(
        table,
        y,
        candidates=candidates,
        declared={},
        known_baseline=known_baseline,
        continuous=continuous,
    )
    return set(suspects)


def table_replicate(generator, n, seed):
    """One clean table and each trap planted in it: what the screens flag."""
    rng = np.random.default_rng(seed)
    table, pre, post = GENERATORS[generator](n, rng)
    change = 100 * (pre - post) / pre
    y = (change >= 50).astype(int)
    if y.min() == y.max():  # a table of one class: no outcome to screen
        return []
    rows = [
        {
            "part": "tables",
            "generator": generator,
            "n": n,
            "case": "clean",
            "found": np.nan,
            "false_alarm": bool(_flags(table, y)),
        }
    ]
    name = SUGGESTIVE[generator][rng.integers(len(SUGGESTIVE[generator]))]
    traps = {
        "post score, suggestive name": (name, post),
        "post score, neutral name": ("score_b", post),
        "outcome recoded as text": ("group_code", np.where(y == 1, "R", "N")),
        "pre-post difference": ("points", pre - post),
    }
    for case, (column, values) in traps.items():
        flagged = _flags(table.assign(**{column: values}), y)
        rows.append(
            {
                "part": "tables",
                "generator": generator,
                "n": n,
                "case": case,
                "found": column in flagged,
                "false_alarm": bool(flagged - {column}),
            }
        )
    # A continuous outcome (SymptomChange): the pre score is a known baseline.
    pre_column = PRE[generator]
    clean = _flags(table, change, continuous=True, known_baseline=[pre_column])
    rows.append(
        {
            "part": "tables",
            "generator": generator,
            "n": n,
            "case": "clean, continuous outcome",
            "found": np.nan,
            "false_alarm": bool(clean),
        }
    )
    flagged = _flags(
        table.assign(score_b=post),
        change,
        continuous=True,
        known_baseline=[pre_column],
    )
    rows.append(
        {
            "part": "tables",
            "generator": generator,
            "n": n,
            "case": "post score, neutral name, continuous outcome",
            "found": "score_b" in flagged,
            "false_alarm": bool(flagged - {"score_b"}),
        }
    )
    return rows


# -- duplicated scans --------------------------------------------------------------
def _resaved(image, rng):
    data = np.asarray(image.dataobj, dtype=np.float32)
    noise = rng.normal(0, 0.02 * data[data != 0].std(), data.shape)
    return nib.Nifti1Image(
        (data + noise * (data != 0)).astype(np.float32), image.affine
    )


def _planted_copies(X, rng, names):
    """X with 1-5% of its scans copied under new ids (half exact, half noisy)."""
    n = len(X)
    k = max(1, round(rng.uniform(0.01, 0.05) * n))
    sources = rng.choice(n, k, replace=False)
    rows, pairs = [], set()
    for j, source in enumerate(sources):
        row = X.iloc[source].copy()
        exact = j % 2 == 0
        if not exact:
            row["image"] = _resaved(row["image"], rng)
        new_id = f"{names}-{j:03d}"
        rows.append(row.rename(new_id))
        pairs.add(tuple(sorted((str(X.index[source]), new_id))))
    return pd.concat([X, pd.DataFrame(rows)]), pairs


def _named(found):
    return {tuple(sorted((a, b))) for a, b, _ in found}


def duplicate_replicate(n, seed):
    """Copies planted in one cohort; a training and an external cohort sharing some."""
    rng = np.random.default_rng(seed)
    cohort = tp.make_synthetic_cohort(
        n, grid="fsl6", random_state=int(rng.integers(2**31))
    )
    rows = []
    planted, pairs = _planted_copies(cohort.X, rng, "copy")
    for features, extractor in (
        ("ROI means", tp.RoiFeatures(verbose=0)),
        ("whole-brain voxels", tp.WholeBrainFeatures(verbose=0)),
    ):
        for case, X, truth in (("clean", cohort.X, set()), ("copies", planted, pairs)):
            design = extractor.fit_transform(X)
            named = _named(Fingerprints.of(design, X.index).pairs())
            rows.append(
                {
                    "part": "duplicates",
                    "generator": features,
                    "n": n,
                    "case": f"{case} ({features})",
                    "found": truth <= named if truth else np.nan,
                    "false_alarm": bool(named - truth),
                }
            )
    # External: a new cohort of n / 2 patients, 1-5% of them training patients.
    training = cohort.X
    other = tp.make_synthetic_cohort(
        max(20, n // 2), grid="fsl6", random_state=int(rng.integers(2**31))
    )
    model = tp.ResponseClassifier("roi", param_grid={"C": [1.0]}, inner_cv=3)
    model.fit(training, cohort.y)
    new = other.X.set_axis([f"new-{i:03d}" for i in range(len(other.X))])
    k = max(1, round(rng.uniform(0.01, 0.05) * len(new)))
    sources = rng.choice(len(training), k, replace=False)
    copies, truth = [], set()
    for j, source in enumerate(sources):
        row = training.iloc[source].copy()
        if j % 2:
            row["image"] = _resaved(row["image"], rng)
        copies.append(row.rename(f"shared-{j:03d}"))
        truth.add((str(training.index[source]), f"shared-{j:03d}"))
    sharing = pd.concat([new, pd.DataFrame(copies)])
    for case, X, expected in (("independent", new, set()), ("sharing", sharing, truth)):
        named = {(a, b) for a, b, _ in model.training_scans_in(X)}
        rows.append(
            {
                "part": "duplicates",
                "generator": "external cohort",
                "n": n,
                "case": f"external cohort, {case}",
                "found": expected <= named if expected else np.nan,
                "false_alarm": bool(named - expected),
            }
        )
    return rows


# -- site confounding -----------------------------------------------------------------
def site_replicate(n, n_sites, seed):
    """The trap and the two kinds of clean multi-site cohorts."""
    rng = np.random.default_rng(seed)
    sites = np.array([f"site{k + 1}" for k in range(n_sites)])[
        rng.permutation(np.arange(n) % n_sites)
    ]
    recruiting = sites == "site1"
    rows = []
    for case, response_gap, offset in (
        ("site recruits responders, own scanner", 0.25, 1.0),
        ("clean: scanners differ, response rates do not", 0.0, 1.0),
        ("clean: response rates differ, scanners do not", 0.25, 0.0),
    ):
        rate = np.where(recruiting, 0.45 + response_gap, 0.45)
        y = (rng.random(n) < rate).astype(int)
        features = rng.normal(size=(n, 9))
        features[recruiting] += offset
        check = site_confounding(sites, y, features)
        trap = case.startswith("site recruits")
        rows.append(
            {
                "part": "sites",
                "generator": f"{n_sites} sites",
                "n": n,
                "case": case,
                "found": check.status == "found" if trap else np.nan,
                "false_alarm": (check.status == "found") if not trap else False,
            }
        )
    return rows


# -- time ----------------------------------------------------------------------------
def screen_time(repeats):
    """One run's screens within the run (n = 100, 2 mm grid, on disk).

    The run is ``txpredict run``'s default: the model, the demographics-only
    baseline and model + demographics in nested 5 x 5-fold CV repeated 10
    times, and 1000 permutations of the model's; the screens are those it
    runs (the table's, on load; site confounding, reading the ROI means;
    duplicates, on the features the nested CV extracts).
    """
    from txpredict.run import run_analysis

    with tempfile.TemporaryDirectory() as folder:
        tp.make_synthetic_cohort(100, random_state=0, out_dir=f"{folder}/study")
        cohort = tp.load_cohort(f"{folder}/study")
        X, y = cohort.X, cohort.y
        table = X.drop(columns=["image", "treatment"])

        def screens():
            screen_table(table, y.to_numpy(), candidates=list(table), declared={})
            roi = tp.RoiFeatures(verbose=0).fit_transform(X)
            site_confounding(X["site"], y, roi)
            Fingerprints.of(roi, X.index).pairs()

        def run():
            config = {
                "data": {
                    "dataset": f"{folder}/study",
                    "image_pattern": "{participant_id}/func/{participant_id}"
                    "_task-faces_stat-effect_statmap.nii.gz",
                },
                "output": {"folder": f"{folder}/results", "overwrite": True},
            }
            run_analysis(config, progress=lambda text: None)

        screen = median(time_runs(screens, repeats))
        whole = median(time_runs(run, repeats))
    return {"screens_seconds": screen, "run_seconds": whole, "share": screen / whole}


def summarise(raw):
    raw = raw.astype({"found": float, "false_alarm": float})
    grouped = raw.groupby(["part", "case", "n"], sort=False)
    table = grouped.agg(
        cohorts=("false_alarm", "size"),
        found=("found", "mean"),
        false_alarms=("false_alarm", "mean"),
    ).reset_index()
    for column in ("found", "false_alarms"):
        p = table[column].astype(float)
        table[f"{column}_mc_se"] = np.sqrt(p * (1 - p) / table["cohorts"])
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    replicates, sizes, duplicate_sizes = args.replicates, SIZES, SIZES
    site_sizes, timing_repeats = (100, 200), 3
    if args.quick:
        replicates, sizes, duplicate_sizes, site_sizes = 2, (40,), (40,), (100,)
        timing_repeats = 0
    start = time.perf_counter()
    seeds = np.random.SeedSequence(23)
    jobs = [
        joblib.delayed(table_replicate)(generator, n, int(seed))
        for generator in GENERATORS
        for n in sizes
        for seed in seeds.spawn(1)[0].generate_state(replicates)
    ]
    duplicates = max(1, replicates // 4)  # images are rendered: fewer
    jobs += [
        joblib.delayed(duplicate_replicate)(n, int(seed))
        for n in duplicate_sizes
        for seed in np.random.SeedSequence([23, n]).generate_state(duplicates)
    ]
    jobs += [
        joblib.delayed(site_replicate)(n, k, int(seed))
        for n in site_sizes
        for k in (2, 3, 4)
        for seed in np.random.SeedSequence([24, n, k]).generate_state(replicates)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = joblib.Parallel(n_jobs=args.n_jobs)(jobs)
    raw = pd.DataFrame([row for part in parts for row in part])
    summary = summarise(raw)
    pd.set_option("display.width", 220)
    print(summary.round(4).to_string(index=False))
    timing = screen_time(timing_repeats) if timing_repeats else None
    if timing:
        print(
            f"screens {timing['screens_seconds']:.2f} s of a run's "
            f"{timing['run_seconds']:.1f} s: {timing['share']:.1%}"
        )
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s")
    if args.quick:
        return
    payload = {
        "summary": summary.to_dict(orient="records"),
        "time": timing,
        "info": {
            "replicates": replicates,
            "duplicate_replicates": duplicates,
            "sizes": list(sizes),
            "wall_seconds": wall,
            "machine": machine(),
        },
    }
    print(f"wrote {write_result('leakage', payload)}")


if __name__ == "__main__":
    main()
