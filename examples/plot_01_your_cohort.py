"""
Load a study laid out your way
==============================

A study as an SPM user keeps it: ``derivatives/spm/sub-01/con_0001.nii``, a
hand-written ``participants.tsv`` with the arm in ``group``, ``gender`` as F/M,
the LSAS before and after treatment instead of a responder flag. txpredict reads
it with only the names changed, keeps the post-treatment score out of the
predictors, and screens the table for columns that could leak the outcome.
"""

# %%
# A study on disk
# ---------------
# Synthetic contrast maps on the 6 mm FSL grid (small, so this runs in seconds),
# written the way SPM lays them out.
import tempfile
from pathlib import Path

import pandas as pd

import txpredict as tp

synthetic = tp.make_synthetic_cohort(
    48, effect="prognostic", grid="fsl6", random_state=5
)
root = Path(tempfile.mkdtemp()) / "anxiety_study"
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
            "age": round(float(row["age"])),
            "gender": "F" if row["sex"] == "F" else "M",
            "group": row["treatment"],
            "lsas_pre": pre,
            "lsas_post": round(pre * (1 - reduction), 1),
        }
    )
pd.DataFrame(rows).to_csv(root / "participants.tsv", sep="\t", index=False)
print(pd.read_csv(root / "participants.tsv", sep="\t").head())

# %%
# Loading it
# ----------
# Responders are patients whose LSAS fell by at least half
# (:class:`txpredict.SymptomReduction`); ``lsas_post`` becomes the outcome and
# never a predictor.
cohort = tp.load_cohort(
    root,
    image_pattern="derivatives/spm/{participant_id}/con_0001.nii",
    outcome=tp.SymptomReduction(pre="lsas_pre", post="lsas_post"),
    treatment="group",
)
print(cohort)
print("predictors:", [c for c in cohort.X.columns if c != "image"])

# %%
# What the leakage screens found
# ------------------------------
# Every column is screened for what could answer the question by itself
# (a post-treatment score, a column that predicts the outcome too well). Here
# the table is clean.
print(cohort.checks)
