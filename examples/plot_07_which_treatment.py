"""
Which treatment suits whom: CBT or SSRI + CBT?
==============================================

A randomised trial whose pre-treatment dorsal ACC reactivity moderates the
benefit of adding an SSRI (Frick et al. 2018). A :class:`txpredict.ModalitySelector`
predicts each patient's response under each arm, and recommends the arm with
the higher one. :func:`txpredict.evaluate_selection` judges the recommendations
as the treatment-selection literature does, out of fold: response among
patients who happened to receive the recommended arm against the others, and
the policy value against giving everyone the better arm.
"""

# %%
import matplotlib.pyplot as plt

import txpredict as tp

trial = tp.make_synthetic_cohort(160, effect="interaction", grid="fsl6", random_state=4)
selector = tp.ModalitySelector(features="roi", strategy="t_learner")
result = tp.evaluate_selection(
    selector,
    trial.X,
    trial.y,
    "treatment",
    n_repeats=3,
    truth=trial.ground_truth,  # known for a synthetic trial only
)
rows = [
    "matched_response_rate",
    "unmatched_response_rate",
    "matched_minus_unmatched",
    "policy_value_ipw",
    "policy_gain",
    "true_policy_value",  # the recommendations' value in the population
    "oracle_policy_value",  # had each patient received their truly better arm
]
print(result.summary().loc[rows, ["estimate", "ci_low", "ci_high"]].round(3))

# %%
# The Personalized Advantage Index of each patient (out of fold): the predicted
# response under SSRI + CBT minus under CBT alone.
pai = result.predictions.groupby("participant_id")[
    [f"p_{arm}" for arm in result.arms]
].mean()
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.hist(pai[f"p_{result.arms[1]}"] - pai[f"p_{result.arms[0]}"], bins=20)
ax.axvline(0, color="grey", ls=":")
ax.set(
    xlabel=f"PAI: P(response | {result.arms[1]}) - P(response | {result.arms[0]})",
    ylabel="patients",
)
plt.show()
