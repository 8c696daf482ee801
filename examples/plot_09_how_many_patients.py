"""
How many patients? Before and after a pilot
===========================================

Before any data, :func:`txpredict.minimum_sample_size` applies Riley et al.'s
(2020) criteria for a prediction model. With a pilot, :func:`txpredict.learning_curve`
reruns the whole nested procedure on subsamples and extrapolates the AUC, its
interval's half-width and the gain over demographics to larger studies.
"""

# %%
import warnings

import txpredict as tp

# 9 ROI means + 3 demographics, half responders, an anticipated AUC of 0.75.
print(tp.minimum_sample_size(12, 0.5, c_statistic=0.75))

# %%
# A pilot of 120 patients: the nested CV on 5 subsample sizes from 60 to 120,
# 3 subsamples each (the default is 5), then the curves fitted and extended.
# Subsamples of weak signal often choose the grid's strongest penalty, which
# the nested CV warns about; here the warning is expected and silenced.
pilot = tp.make_synthetic_cohort(120, effect="prognostic", grid="fsl6", random_state=8)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", tp.GridEdgeWarning)
    curve = tp.learning_curve(
        tp.ResponseClassifier("roi+demographics"),
        pilot.X,
        pilot.y,
        baseline=tp.ResponseClassifier("demographics"),
        n_subsamples=3,
    )
columns = ["auc", "auc_low", "auc_high", "gain", "gain_low", "gain_high"]
print(curve.extrapolate([120, 240, 480])[columns].round(3))

# %%
# The answers, in words, with their intervals (read the n for a given interval
# width as rough: ``benchmarks/learning_curve.py`` measured it 10-20% low).
for sentence in curve.sentences():
    print("-", sentence)
