"""
What a whole-brain model learnt: weights and patterns
=====================================================

A linear model on every brain voxel, evaluated by nested CV. Its weights show
what the model leans on, including voxels that only cancel noise; the
activation pattern (Haufe et al. 2014) shows where its score covaries with the
brain. ``return_maps=True`` keeps each outer fold's maps; ``result.maps``
gives their mean and, per voxel, how consistent they are across folds
(``result.maps.table("pattern")``).
"""

# %%
from nilearn import plotting

import txpredict as tp

cohort = tp.make_synthetic_cohort(200, effect="prognostic", grid="fsl6", random_state=2)
model = tp.ResponseClassifier("wholebrain", param_grid={"C": [1e-4, 1e-2]})
result = tp.nested_cross_validate(
    model, cohort.X, cohort.y, n_repeats=1, return_maps=True, random_state=0
)
summary = result.summary()
print(summary.loc[["auc", "balanced_accuracy"], ["estimate", "ci_low", "ci_high"]])

# %%
# The mean pattern over the outer-fold models, unthresholded: a map to look at,
# not a test. A model on every voxel is weak at n = 200 (the AUC above), yet its
# pattern shows where the cohort's planted prognostic signal is: the cuneus,
# where the cross is. The rest is mostly noise.
pattern = result.maps.to_img("pattern", "mean")
display = plotting.plot_stat_map(
    pattern, display_mode="ortho", cut_coords=(8, -78, 28), title="mean pattern"
)
