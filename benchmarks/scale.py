"""Thousands of patients: whole-brain nested CV with the design on disk or in memory.

Synthetic patients on the FSL MNI152 2 mm grid (235,375 voxels in the brain
mask), their images written to disk, analysed as the issue's table was: nested
5 x 5-fold CV (one repeat) of the default linear SVM (5 C values) on
whole-brain voxels, with every outer fold's weight and pattern maps. Each run
is a fresh process with ``n_jobs=1`` (no worker processes: the process is
the whole tree; its BLAS uses both cores), timed in two parts, and its peak
resident memory recorded:

- ``disk``: the images extracted into a :class:`txpredict.features.VoxelStore`
  (``transform_to_store``), then ``nested_cross_validate(on_disk=True)``;
- ``memory``: the images extracted into memory through the feature cache,
  then ``nested_cross_validate(on_disk=False)`` (reading the warm cache), for
  n up to ``--memory-max``;
- ``disk+combat`` and ``memory+combat``: the same model with
  ``harmonize="combat"`` (each generated study of 500 is a site), for n up
  to ``--combat-max``: ComBat is fitted on every inner and outer training
  set, so each has its own Gram matrix (on disk: one pass over the store to
  fit ComBat, one to apply it and accumulate the Gram matrix);
- ``nilearn``: ``nilearn.decoding.Decoder(estimator="svc")`` on the same
  images (its own masking and a LinearSVC, and not nested: for reference),
  for n up to ``--decoder-max``.

The out-of-fold decision values of ``disk`` and ``memory`` are checked equal.
The generator holds a whole study in memory, so the cohort is made of studies
of 500 patients (each its own seed, as replicate draws of one population).
Writes ``benchmarks/results/scale.json``.

Usage: ``python benchmarks/scale.py [--sizes 1000,2500,3200,5000,10000]
[--memory-max 3200] [--combat-max 1000] [--decoder-max 1000] [--work DIR]
[--quick]``
(``--work`` keeps the generated images there for another run.)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import txpredict as tp
from _common import RESULTS, fit_nilearn_decoder, machine, write_result

PART = 500  # patients per generated study
C_GRID = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
TARGETS = {
    "n10000_cv_minutes_max": 20.0,
    "n10000_peak_gb_max": 6.0,
    "n3200_peak_gb_max": 4.0,
    "n3200_time_vs_memory_route_max": 1.2,
}


def cohort_table(work: Path, n: int, grid: str) -> Path:
    """``table.csv`` (participant, image, y) of ``n`` patients, generated once."""
    frames = []
    for k in range(-(-n // PART)):
        folder = work / f"study{k:02d}"
        size = min(PART, n - k * PART) if grid == "fsl6" else PART
        if not (folder / "participants.tsv").exists():
            tp.make_synthetic_cohort(
                size,
                effect="prognostic",
                grid=grid,
                random_state=k,
                out_dir=folder,
                n_jobs=2,
            )
        cohort = tp.load_cohort(folder)
        frame = cohort.X[["image"]].assign(y=cohort.y, site=f"study{k:02d}")
        frames.append(frame.set_axis([f"s{k:02d}-{i}" for i in frame.index]))
    table = pd.concat(frames).iloc[:n]
    path = work / f"table_{n}.csv"
    table.rename_axis("participant_id").to_csv(path)
    return path


def child(route: str, table: Path, cache: Path) -> dict:
    """One measured run (in its own process); returns times and peak memory."""
    X = pd.read_csv(table, index_col="participant_id")
    y = X.pop("y")
    out = {}
    start = time.perf_counter()
    if route == "nilearn":
        fit_nilearn_decoder(list(X["image"]), y.to_numpy(), C_GRID)
        out["cv_seconds"] = time.perf_counter() - start
    else:
        extractor = tp.WholeBrainFeatures(memory=cache, verbose=0).fit(X)
        on_disk = route.startswith("disk")
        if on_disk:
            extractor.transform_to_store(X, cache)
        else:
            extractor.transform(X)  # fills the feature cache
        out["extraction_seconds"] = time.perf_counter() - start
        model = tp.ResponseClassifier(
            "wholebrain",
            "linear_svm",
            memory=cache,
            param_grid={"C": C_GRID},
            harmonize="combat" if route.endswith("+combat") else None,
        )
        start = time.perf_counter()
        result = tp.nested_cross_validate(
            model,
            X,
            y,
            n_repeats=1,
            random_state=0,
            return_maps=True,
            on_disk=on_disk,
        )
        out["cv_seconds"] = time.perf_counter() - start
        out["auc"] = float(result.summary().at["auc", "estimate"])
        out["maps"] = list(result.maps.weights.shape)
        scores = result.predictions.set_index("participant_id").loc[X.index, "score"]
        np.save(cache / "scores.npy", scores.to_numpy())
    out["peak_gb"] = peak_memory_gb()
    return out


def peak_memory_gb() -> float:
    """Peak resident memory of the current process since it started.

    /proc's VmHWM belongs to the process's memory map, new at exec; getrusage's
    ru_maxrss is inherited across fork and exec on Linux, and would report the
    parent's peak (here: generating the images) as the child's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(route, table, cache) -> dict:
    cache.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [sys.executable, __file__, "--child", route, str(table), str(cache)],
        capture_output=True,
        text=True,
    )
    if run.returncode:
        raise RuntimeError(f"{route} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2500,3200,5000,10000")
    parser.add_argument("--memory-max", type=int, default=3200)
    parser.add_argument("--combat-max", type=int, default=1000)
    parser.add_argument("--decoder-max", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="n = 60 on the 6 mm grid")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        route, table, cache = args.child
        print(json.dumps(child(route, Path(table), Path(cache))))
        return
    grid, sizes = "fsl2", [int(n) for n in args.sizes.split(",")]
    if args.quick:
        grid, sizes, args.decoder_max, args.combat_max = "fsl6", [60], 60, 60
    work = args.work or Path(tempfile.mkdtemp(prefix="txpredict_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        tables = {}
        for n in sizes:
            start = time.perf_counter()
            tables[n] = cohort_table(work, n, grid)
            print(f"n={n}: images ready ({time.perf_counter() - start:.0f} s)")
        # txpredict's routes at every size first, then the slow competitor.
        plan = [(n, "disk") for n in sizes]
        plan += [(n, "memory") for n in sizes if n <= args.memory_max]
        for route in ("disk+combat", "memory+combat"):
            plan += [(n, route) for n in sizes if n <= args.combat_max]
        plan += [(n, "nilearn") for n in sizes if n <= args.decoder_max]
        for n, route in sorted(plan, key=lambda p: (p[1] == "nilearn", p[0])):
            cache = work / f"cache_{route}_{n}"
            row = {"n": n, "route": route, **measure(route, tables[n], cache)}
            if route != "nilearn":
                np.save(work / f"scores_{route}_{n}.npy", np.load(cache / "scores.npy"))
            shutil.rmtree(cache, ignore_errors=True)
            if route.startswith("memory"):  # the disk route's scores are there
                suffix = route.removeprefix("memory")
                disk = np.load(work / f"scores_disk{suffix}_{n}.npy")
                memory = np.load(work / f"scores_{route}_{n}.npy")
                difference = float(np.abs(disk - memory).max())
                assert difference < 1e-6 * max(1.0, np.abs(memory).max()), difference
                row["max_difference_vs_disk"] = difference
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not args.quick:  # a long run keeps what it measured so far
                save(rows, grid)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    frame = pd.DataFrame(rows)
    print(frame.round(2).to_string(index=False))


def save(rows, grid):
    """``results/scale.json`` with the runs measured so far.

    Runs of an earlier invocation at other (n, route) pairs are kept: a
    competitor can be re-run on its own.
    """
    path = RESULTS / "scale.json"
    kept = json.loads(path.read_text())["runs"] if path.exists() else []
    new = {(r["n"], r["route"]) for r in rows}
    rows = [r for r in kept if (r["n"], r["route"]) not in new] + rows
    rows.sort(key=lambda r: (r["route"], r["n"]))
    write_result(
        "scale",
        {
            "info": {
                "grid": grid,
                "model": "linear_svm, C in " + str(C_GRID),
                "cv": "nested 5 x 5-fold, 1 repeat, every outer fold's maps",
                "n_jobs": 1,
                "machine": machine(),
            },
            "targets": TARGETS,
            "runs": rows,
        },
    )


if __name__ == "__main__":
    main()
