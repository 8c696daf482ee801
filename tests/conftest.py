"""Shared fixtures: seeded RNG, tiny asymmetric images, small synthetic cohorts."""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores, each with a 2-thread BLAS, oversubscribe the
    # machine and OpenBLAS's spinning threads then slow the linear algebra
    # down 2-5x (measured on the voxel tests). One thread per worker; set
    # before numpy loads its BLAS, and inherited by the subprocesses the tests
    # start (benchmark scripts, notebook kernels).
    for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_variable] = "1"

import nibabel as nib
import numpy as np
import pytest
from threadpoolctl import threadpool_limits
from xdist.scheduler import LoadFileScheduling

import txpredict as tp

if os.environ.get("PYTEST_XDIST_WORKER"):
    threadpool_limits(1)  # a BLAS a plugin may have loaded before this file


class _FileScheduling(LoadFileScheduling):
    """One test file per worker at a time, except the benchmark scripts.

    A file's module fixtures are then built once (a file split over two
    workers builds them twice, concurrently); the benchmark scripts' quick
    runs are independent and slow, so each is a unit of its own.  A scheduler
    rather than ``xdist_group`` marks: xdist 3.8 applies those marks by
    renaming the node ids, which pytest 9 no longer lets it do, and the
    groups were then silently ignored.
    """

    def _split_scope(self, nodeid):
        if nodeid.startswith("tests/test_benchmarks.py::"):
            return nodeid
        return super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)  # a known hook only where xdist is loaded
def pytest_xdist_make_scheduler(config, log):
    return _FileScheduling(config, log)


# Asymmetric on purpose: a swapped axis changes the shape and gets caught.
TINY_SHAPE = (7, 8, 9)


@pytest.fixture
def rng():
    return np.random.default_rng(42)


@pytest.fixture
def tiny_affine():
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = (-9.0, -12.0, -12.0)
    return affine


def write_nifti(path, data, affine):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine).to_filename(path)
    return path


@pytest.fixture
def tiny_images(tmp_path, rng, tiny_affine):
    """Five 3D images on a (7, 8, 9) grid of 3 mm voxels, as files."""
    return [
        write_nifti(
            tmp_path / f"img{i}.nii.gz", rng.standard_normal(TINY_SHAPE), tiny_affine
        )
        for i in range(5)
    ]


@pytest.fixture(scope="session")
def small_cohort_dir(tmp_path_factory):
    """A 24-subject synthetic cohort on the coarse 6 mm FSL grid, on disk."""
    out = tmp_path_factory.mktemp("cohort") / "study"
    tp.make_synthetic_cohort(24, grid="fsl6", random_state=0, out_dir=out)
    return out


@pytest.fixture
def small_cohort(small_cohort_dir):
    return tp.load_cohort(small_cohort_dir)


@pytest.fixture(scope="session")
def rest_cohort_dir(tmp_path_factory):
    """A 12-subject cohort with 4D resting-state runs on the 6 mm grid."""
    out = tmp_path_factory.mktemp("rest") / "study"
    tp.make_synthetic_cohort(
        12,
        grid="fsl6",
        rest=True,
        rest_grid="fsl6",
        n_timepoints=120,
        random_state=1,
        out_dir=out,
    )
    return out


@pytest.fixture(scope="session")
def spm_study_dir(tmp_path_factory):
    """A study laid out and named the way an SPM user keeps it, not like ours.

    ``derivatives/spm/sub-01/con_0001.nii`` (uncompressed, one file name for
    everyone, two-digit ids), a participants.tsv written by hand: ``group``
    for the arm, ``lsas_pre``/``lsas_post`` scores instead of a responder flag,
    ``gender`` as F/M, a ``scanner`` column, an ``n/a`` age, and no
    participants.json.
    """
    synthetic = tp.make_synthetic_cohort(
        48,
        effect="prognostic",
        n_sites=2,
        site_names=["prisma", "skyra"],
        grid="fsl6",
        random_state=5,
    )
    root = tmp_path_factory.mktemp("user") / "anxiety_study"
    rows = []
    for i, (pid, row) in enumerate(synthetic.X.iterrows(), start=1):
        subject = f"sub-{i:02d}"
        path = root / "derivatives" / "spm" / subject / "con_0001.nii"
        path.parent.mkdir(parents=True)
        row["image"].to_filename(path)
        pre = round(float(row["baseline_severity"]))
        reduction = synthetic.ground_truth.at[pid, "symptom_reduction"] / 100
        rows.append(
            {
                "participant_id": subject,
                "age": "n/a" if i == 7 else round(float(row["age"])),
                "gender": "F" if row["sex"] == "F" else "M",
                "group": row["treatment"],
                "scanner": row["site"],
                "lsas_pre": pre,
                "lsas_post": pre * (1 - reduction),
            }
        )
    import pandas as pd

    pd.DataFrame(rows).to_csv(root / "participants.tsv", sep="\t", index=False)
    return root


#: Where the three-site trial keeps each patient's first-level map (fitlins /
#: nilearn naming under an fMRIPrep-style derivatives folder).
TRIAL_PATTERN = (
    "derivatives/fitlins/{participant_id}/func/{participant_id}_task-faces_"
    "space-MNI152NLin2009cAsym_contrast-facesGtShapes_stat-effect_statmap.nii.gz"
)


@pytest.fixture(scope="session")
def trial_study_dir(tmp_path_factory):
    """A three-site depression trial laid out and coded the way its users keep it.

    120 patients from the sites ``Berlin``, ``Dresden`` and ``Münster`` (each
    scanner with its own offsets), arms ``CBT`` and ``CBT+SSRI`` (one name a
    prefix of the other, with a ``+``), HAMD scores ``HAMD_baseline`` and
    ``HAMD_week12`` (post-treatment) instead of a responder flag, ``Age`` with
    an ``n/a`` and ``Sex`` coded M/W (with an ``n/a``); float64 maps named as
    fitlins names them; ``Levels`` for the arm and the sex in participants.json;
    the table's rows in another order than the participants' numbers; a
    planted dACC x arm moderator.
    """
    import json

    import pandas as pd

    synthetic = tp.make_synthetic_cohort(
        120,
        effect="interaction",
        n_sites=3,
        site_names=["Berlin", "Dresden", "Münster"],
        grid="fsl6",
        random_state=11,
    )
    root = tmp_path_factory.mktemp("trial") / "depression_trial"
    rows = []
    for i, (pid, row) in enumerate(synthetic.X.iterrows(), start=1):
        subject = f"sub-{i:03d}"
        path = root / TRIAL_PATTERN.format(participant_id=subject)
        path.parent.mkdir(parents=True)
        image = row["image"]
        data = np.asarray(image.dataobj, dtype=np.float64)
        nib.Nifti1Image(data, image.affine).to_filename(path)
        pre = round(
            float(row["baseline_severity"]) / 3
        )  # an LSAS-like to a HAMD-17 range
        reduction = synthetic.ground_truth.at[pid, "symptom_reduction"] / 100
        rows.append(
            {
                "participant_id": subject,
                "Age": "n/a" if i == 5 else int(row["age"]),
                "Sex": "n/a" if i == 9 else ("W" if row["sex"] == "F" else "M"),
                "site": row["site"],
                "arm": "CBT" if row["treatment"] == "CBT" else "CBT+SSRI",
                "HAMD_baseline": pre,
                "HAMD_week12": max(0, round(pre * (1 - reduction))),
            }
        )
    table = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # not in id order
    table.to_csv(root / "participants.tsv", sep="\t", index=False)
    sidecar = {
        "arm": {
            "Description": "randomised treatment arm",
            "Levels": {"CBT": "CBT + placebo", "CBT+SSRI": "CBT + sertraline"},
        },
        "Sex": {"Levels": {"M": "man", "W": "woman"}},
        "HAMD_week12": {"Description": "HAMD-17 after 12 weeks of treatment"},
    }
    (root / "participants.json").write_text(json.dumps(sidecar, indent=1))
    return root


@pytest.fixture(scope="module")
def trial(trial_study_dir):
    """The three-site trial loaded as its users would (responders from HAMD)."""
    return tp.load_cohort(
        trial_study_dir,
        TRIAL_PATTERN,
        outcome=tp.SymptomReduction("HAMD_baseline", "HAMD_week12"),
        treatment="arm",
    )
