"""
A multi-site study: ComBat in the folds, the next clinic
========================================================

Three scanners with their own offsets and noise. ComBat removes site effects
from the image features, fitted on each training part only. Leave-site-out
cross-validation asks how the model does at a clinic it has never seen; the
per-site results and their heterogeneity say whether one site carries it.
"""

# %%
import txpredict as tp

cohort = tp.make_synthetic_cohort(
    120, effect="prognostic", n_sites=3, grid="fsl6", random_state=2
)
print(cohort.X["site"].value_counts())

# %%
# 5-fold CV (every site in every fold), and leave-site-out. Left out by site,
# each training part holds two sites, which the inner CV (it tunes C and
# recalibrates the probabilities) keeps whole: two inner folds.
model = tp.ResponseClassifier("roi", harmonize="combat", inner_cv=2)
kfold = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=2)
by_site = tp.nested_cross_validate(
    model, cohort.X, cohort.y, outer_cv="leave-site-out", groups="site"
)
for name, result in (("5-fold", kfold), ("leave-site-out", by_site)):
    auc = result.summary().loc["auc"]
    print(f"{name}: AUC {auc.estimate:.2f} [{auc.ci_low:.2f}, {auc.ci_high:.2f}]")

# %%
# Each held-out site's results, and their heterogeneity (random-effects
# pooling: tau^2, I^2 and the pooled estimate with its interval).
print(by_site.per_site().round(3))
print(by_site.heterogeneity().round(3))
