"""
Does the scan add anything to demographics?
===========================================

The question a reviewer asks first. :func:`txpredict.added_value` fits the
model with the scan and the baseline without it on identical nested splits,
and tests the scan's added value by permutation: each permutation keeps the
outcome and the demographics, and shuffles only the part of the scan features
that the demographics do not predict, refitting the whole nested CV. When the
test is not significant, ``detectable`` says how large a gain this study could
have found: "too small a study to tell" is not "the scan adds nothing".
"""

# %%
import txpredict as tp

cohort = tp.make_synthetic_cohort(100, effect="prognostic", grid="fsl6", random_state=3)
added = tp.added_value(
    tp.ResponseClassifier("roi+demographics"),
    cohort.X,
    cohort.y,
    n_permutations=99,  # the default is 1000; 99 keeps this page fast
    n_repeats=2,
    random_state=0,
)

# %%
# Both models, their difference with its 95% interval, and the permutation test
# that decides.
print(added.comparison.table.round(3).T)
print("the scan adds:", added.scan_adds)

# %%
# What this test finds with 80% power at this cohort's size, measured on
# synthetic cohorts by ``benchmarks/detectable_effect.py``.
print(added.detectable.sentence())
print("patients to detect an AUC gain of 0.10:", tp.stats.patients_to_detect(0.10).n)
