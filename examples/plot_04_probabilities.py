"""
Probabilities a clinician can use
=================================

A model fitted on 80 patients is too confident for the next patient. By default
each fold's decision values are recalibrated on its own inner CV's out-of-fold
decision values (``calibration="inner_platt"``, the slope clipped to [0, 1]);
``calibration="prior_shift"`` is the former default. The decisions, and so the
AUC and balanced accuracy, are the same; the probabilities differ. Out of fold,
a calibration slope of 1 is perfect and below 1 means too extreme.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import txpredict as tp

cohort = tp.make_synthetic_cohort(160, effect="prognostic", grid="fsl6", random_state=7)
results = {
    calibration: tp.nested_cross_validate(
        tp.ResponseClassifier("roi", calibration=calibration),
        cohort.X,
        cohort.y,
        n_repeats=3,
        random_state=0,
    )
    for calibration in ("inner_platt", "prior_shift")
}
for name, result in results.items():
    print(name, result.calibration()["estimate"].round(3).to_dict())

# %%
# Observed response rate against the mean probability, by fifths of the
# out-of-fold probabilities (all repeats pooled).
fig, ax = plt.subplots(figsize=(4.5, 4.5))
for name, result in results.items():
    p = result.predictions["probability"].to_numpy()
    y = result.predictions["y_true"].to_numpy()
    bins = np.quantile(p, np.linspace(0, 1, 6))
    which = np.clip(np.searchsorted(bins, p, side="right") - 1, 0, 4)
    ax.plot(
        [p[which == k].mean() for k in range(5)],
        [y[which == k].mean() for k in range(5)],
        marker="o",
        label=name,
    )
ax.plot([0, 1], [0, 1], ls=":", color="grey")
ax.set(xlabel="mean predicted probability", ylabel="observed response rate")
ax.legend()
plt.show()

# %%
# Net benefit of offering the therapy to patients above a threshold
# probability, against offering it to all or none (decision curve analysis).
print(results["inner_platt"].decision_curve([0.2, 0.3, 0.4, 0.5, 0.6]).round(3))
