"""
What a whole-brain model learnt: weights and patterns
=====================================================

A linear model on every brain voxel, evaluated by nested CV. Its weights show
what the model leans on, including voxels that only cancel noise; the
activation pattern (Haufe et al. 2014) shows where its score covaries with the
brain. ``return_maps=True`` keeps each outer fold's maps; ``result.maps``
gives their mean and, per voxel, how consistent they are across folds.
"""

# %%
from nilearn import plotting

import txpredict as tp

cohort = tp.make_synthetic_cohort(80, effect="prognostic", grid="fsl6", random_state=1)
model = tp.ResponseClassifier("wholebrain", param_grid={"C": [1e-4, 1e-2]})
result = tp.nested_cross_validate(
    model, cohort.X, cohort.y, n_repeats=1, return_maps=True, random_state=0
)
summary = result.summary()
print(summary.loc[["auc", "balanced_accuracy"], ["estimate", "ci_low", "ci_high"]])

# %%
# The mean pattern over the outer-fold models (unthresholded: a map to look at,
# not a test). The synthetic cohort's signal sits in the dorsal ACC and cuneus.
pattern = result.maps.to_img("pattern", "mean")
plotting.plot_stat_map(
    pattern, display_mode="ortho", cut_coords=(0, 20, 24), title="mean pattern"
)
plotting.show()
