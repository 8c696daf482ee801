"""
A continuous outcome: percent symptom change
============================================

Instead of a responder flag, the percent reduction of the symptom score. A
:class:`txpredict.ResponseRegressor` (ridge, alpha tuned in the inner CV) runs
through the same nested CV; its predictions can also be read as responders
(a predicted reduction of at least 50%).
"""

# %%
import matplotlib.pyplot as plt

import txpredict as tp

cohort = tp.make_synthetic_cohort(120, effect="prognostic", grid="fsl6", random_state=6)
change = cohort.ground_truth["symptom_reduction"]  # percent reduction
regression = tp.nested_cross_validate(
    tp.ResponseRegressor("roi"), cohort.X, change, n_repeats=3, random_state=0
)
print(regression.summary()[["estimate", "ci_low", "ci_high", "dummy"]].round(3))

# %%
# Responder metrics from the predicted change (>= 50% reduction).
print(regression.responders(50).round(3))

# %%
# Predicted against observed change, out of fold (first repeat).
first = regression.predictions[regression.predictions["repeat"] == 0]
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(first["y_true"], first["y_pred"], s=12)
ax.set(xlabel="observed reduction (%)", ylabel="predicted reduction (%)")
plt.show()
