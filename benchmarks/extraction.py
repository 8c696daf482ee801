"""Feature extraction speed: txpredict vs nibabel (the floor) vs nilearn maskers.

On N synthetic subjects (FSL MNI152 2 mm, gzipped float32 contrast maps), in one
run, side by side:

(a) nibabel loading every image (``get_fdata(dtype=float32)``): decompression,
    the floor any tool pays;
(b) nilearn as a user would chain it: ``NiftiMasker`` (whole brain) and one
    ``NiftiSpheresMasker`` per ROI radius (nilearn takes one radius per masker;
    the default ROIs have three);
(c) txpredict extracting the default ROI means and all whole-brain voxels
    together (``ImageFeatures``), cold cache, n_jobs=1 and 2 (the workers
    write their rows straight into a shared output; timed with the worker
    processes already started, as the median of several runs);
(d) txpredict again with a warm cache.

Checks that txpredict's outputs equal nilearn's (1e-5) on the same ROIs and mask,
prints medians and ratios, and writes ``benchmarks/results/extraction.json``.

Usage: ``python benchmarks/extraction.py [--n-subjects 100] [--repeats 5] [--quick]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from nilearn.maskers import NiftiMasker, NiftiSpheresMasker

import txpredict as tp
from _common import machine, median, time_runs, write_result
from txpredict._images import mni_brain_mask

TARGETS = {
    "cold_n_jobs_1_vs_nibabel_max": 1.3,
    "nilearn_vs_cold_n_jobs_1_min": 3.0,
    "nibabel_vs_warm_min": 20.0,
    "cold_n_jobs_1_vs_cold_n_jobs_2_min": 1.7,
}


def nilearn_chain(paths, rois, mask_img):
    whole = NiftiMasker(mask_img=mask_img, standardize=None).fit_transform(paths)
    by_radius = {}
    for i, roi in enumerate(rois):
        by_radius.setdefault(roi.radius, []).append(i)
    means = np.empty((len(paths), len(rois)))
    for radius, members in by_radius.items():
        masker = NiftiSpheresMasker(
            [rois[i].center for i in members],
            radius=radius,
            mask_img=mask_img,
            allow_overlap=True,
            standardize=None,
        )
        means[:, members] = masker.fit_transform(paths)
    return means, whole


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="6 subjects, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_subjects, args.repeats = 6, 1

    work = Path(tempfile.mkdtemp(prefix="txpredict_bench_"))
    try:
        cohort = tp.make_synthetic_cohort(
            args.n_subjects, random_state=0, out_dir=work / "cohort", n_jobs=2
        )
        paths = list(cohort.X["image"])
        rois = tp.default_rois()
        grid = tp.Grid.of(nib.load(paths[0]))
        mask_img = nib.Nifti1Image(mni_brain_mask(grid).astype(np.uint8), grid.affine)
        for p in paths:  # warm the OS page cache: we time decompression, not disk
            Path(p).read_bytes()

        def txpredict_run(n_jobs, memory):
            features = tp.ImageFeatures(
                [tp.RoiFeatures(rois), tp.WholeBrainFeatures()],
                n_jobs=n_jobs,
                memory=memory,
                verbose=0,
            )
            return features.fit_transform(cohort.X)

        # Correctness first: same ROIs, same mask, same numbers as nilearn.
        ours = txpredict_run(1, None)
        nl_means, nl_whole = nilearn_chain(paths, rois, mask_img)
        max_diff_rois = float(np.abs(ours[:, : len(rois)] - nl_means).max())
        max_diff_voxels = float(np.abs(ours[:, len(rois) :] - nl_whole).max())
        assert max_diff_rois < 1e-5 and max_diff_voxels < 1e-5, (
            max_diff_rois,
            max_diff_voxels,
        )

        cache_dirs = iter(range(10_000))

        def cold(n_jobs):
            def run():
                txpredict_run(n_jobs, work / f"cache{next(cache_dirs)}")

            return run

        warm_dir = work / "warm"
        txpredict_run(1, warm_dir)
        times = {
            "a_nibabel_load": time_runs(
                lambda: [nib.load(p).get_fdata(dtype=np.float32) for p in paths],
                args.repeats,
            ),
            "b_nilearn_maskers": time_runs(
                lambda: nilearn_chain(paths, rois, mask_img), args.repeats
            ),
            "c_txpredict_cold_n_jobs_1": time_runs(cold(1), args.repeats),
            "c_txpredict_cold_n_jobs_2": time_runs(cold(2), args.repeats),
            "d_txpredict_warm": time_runs(
                lambda: txpredict_run(1, warm_dir), args.repeats
            ),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    medians = {k: median(v) for k, v in times.items()}
    floor = medians["a_nibabel_load"]
    cold1 = medians["c_txpredict_cold_n_jobs_1"]
    ratios = {
        "cold_n_jobs_1_vs_nibabel": cold1 / floor,
        "nilearn_vs_cold_n_jobs_1": medians["b_nilearn_maskers"] / cold1,
        "nibabel_vs_warm": floor / medians["d_txpredict_warm"],
        "cold_n_jobs_1_vs_cold_n_jobs_2": cold1 / medians["c_txpredict_cold_n_jobs_2"],
    }
    met = {
        "cold_n_jobs_1_vs_nibabel_max": ratios["cold_n_jobs_1_vs_nibabel"]
        <= TARGETS["cold_n_jobs_1_vs_nibabel_max"],
        "nilearn_vs_cold_n_jobs_1_min": ratios["nilearn_vs_cold_n_jobs_1"]
        >= TARGETS["nilearn_vs_cold_n_jobs_1_min"],
        "nibabel_vs_warm_min": ratios["nibabel_vs_warm"]
        >= TARGETS["nibabel_vs_warm_min"],
        "cold_n_jobs_1_vs_cold_n_jobs_2_min": ratios["cold_n_jobs_1_vs_cold_n_jobs_2"]
        >= TARGETS["cold_n_jobs_1_vs_cold_n_jobs_2_min"],
    }
    print(
        f"{args.n_subjects} subjects, FSL MNI152 2 mm, {len(rois)} ROIs + "
        f"{ours.shape[1] - len(rois)} voxels; median of {args.repeats} run(s)"
    )
    print(f"{'':32}{'seconds':>9}{'x nibabel':>11}")
    for key, value in medians.items():
        print(f"{key:32}{value:>9.3f}{value / floor:>11.2f}")
    for key, value in ratios.items():
        print(f"{key:32}{value:>9.2f}")
    print(
        f"max |txpredict - nilearn|: ROI means {max_diff_rois:.1e}, "
        f"voxels {max_diff_voxels:.1e}"
    )
    print("targets met:", met)
    if not args.quick:
        path = write_result(
            "extraction",
            {
                "n_subjects": args.n_subjects,
                "repeats": args.repeats,
                "grid": repr(grid),
                "n_rois": len(rois),
                "n_voxels": int(ours.shape[1] - len(rois)),
                "median_seconds": medians,
                "runs_seconds": times,
                "ratios": ratios,
                "targets": TARGETS,
                "targets_met": met,
                "max_abs_difference_vs_nilearn": {
                    "roi_means": max_diff_rois,
                    "voxels": max_diff_voxels,
                },
                "machine": machine(),
            },
        )
        print(f"wrote {path}")
    return medians, ratios


if __name__ == "__main__":
    main()
