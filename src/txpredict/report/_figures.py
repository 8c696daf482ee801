"""Report figures as base64 PNG.

The figures are made with matplotlib's object-oriented API (``Figure``), not
pyplot: importing txpredict neither picks nor changes the user's backend (a
notebook keeps its inline plots, a headless server needs no display), and no
figure is left open in pyplot's registry.
"""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import ScalarFormatter
from sklearn.metrics import roc_curve

_FPR = np.linspace(0, 1, 101)


def subplots(nrows=1, ncols=1, *, figsize, **options):
    """``pyplot.subplots`` without pyplot: a new figure and its axes.

    Parameters
    ----------
    nrows, ncols : int, default=1
        The grid of axes.
    figsize : tuple of float
        Width and height in inches.
    **options
        Passed to :func:`matplotlib.pyplot.subplots`.
    """
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **options)


def png_bytes(fig) -> bytes:
    """The figure as PNG (the reports' resolution).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (closed afterwards).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def _png(fig) -> str:
    """The figure as base64 PNG, for an ``<img src="data:...">``."""
    return base64.b64encode(png_bytes(fig)).decode("ascii")


def _tpr_at(y, score):
    fpr, tpr, _ = roc_curve(y, score)
    return np.interp(_FPR, fpr, tpr)


def roc_figure(result, n_boot=200, random_state=0) -> str:
    """ROC of repeat-averaged scores with a bootstrap (over patients) 95% band."""
    by_subject = result.predictions.groupby("participant_id")
    y = by_subject["y_true"].first().to_numpy()
    score = by_subject["score"].mean().to_numpy()
    rng = np.random.default_rng(random_state)
    curves = []
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    for _ in range(n_boot):
        idx = np.concatenate(
            [
                rng.choice(positives, len(positives)),
                rng.choice(negatives, len(negatives)),
            ]
        )
        curves.append(_tpr_at(y[idx], score[idx]))
    low, high = np.percentile(curves, [2.5, 97.5], axis=0)
    fig, ax = subplots(figsize=(4.5, 4.5))
    ax.fill_between(_FPR, low, high, alpha=0.3, label="95% bootstrap band")
    ax.plot(_FPR, _tpr_at(y, score), lw=2, label="model")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="chance")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC (out-of-fold)")
    ax.legend(loc="lower right")
    return _png(fig)


def confusion_figure(result) -> str:
    """Confusion matrix averaged over repeats."""
    p = result.predictions
    n_repeats = p["repeat"].nunique()
    matrix = np.array(
        [
            [((p.y_true == t) & (p.y_pred == q)).sum() / n_repeats for q in (0, 1)]
            for t in (0, 1)
        ]
    )
    fig, ax = subplots(figsize=(3.8, 3.3))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.1f}", ha="center", va="center")
    labels = ["non-responder", "responder"]
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=labels,
        yticklabels=labels,
        xlabel="predicted",
        ylabel="observed",
        title="Confusion (mean per repeat)",
    )
    return _png(fig)


def folds_figure(results: dict) -> str:
    """Per-fold AUC and balanced accuracy of each model."""
    fig, axes = subplots(1, 2, figsize=(8, 3.2), sharey=True)
    rng = np.random.default_rng(0)
    for ax, metric in zip(axes, ("auc", "balanced_accuracy"), strict=True):
        for k, result in enumerate(results.values()):
            values = result.folds[metric].to_numpy()
            ax.scatter(
                k + rng.uniform(-0.15, 0.15, len(values)), values, s=12, alpha=0.7
            )
            ax.hlines(np.nanmean(values), k - 0.3, k + 0.3, color="k")
        ax.axhline(0.5, ls="--", color="grey", lw=1)
        ax.set(xticks=range(len(results)), title=metric)
        ax.set_xticklabels(list(results), rotation=20, ha="right")
    return _png(fig)


def baseline_figure(summaries: dict) -> str:
    """Estimates with 95% intervals of each model, for AUC and balanced accuracy."""
    fig, axes = subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax, metric in zip(axes, ("auc", "balanced_accuracy"), strict=True):
        for k, summary in enumerate(summaries.values()):
            row = summary.loc[metric]
            ax.errorbar(
                k,
                row["estimate"],
                yerr=[
                    [row["estimate"] - row["ci_low"]],
                    [row["ci_high"] - row["estimate"]],
                ],
                fmt="o",
                capsize=4,
            )
        ax.axhline(0.5, ls="--", color="grey", lw=1)
        ax.set(
            xticks=range(len(summaries)),
            title=metric,
            ylim=(0, 1),
        )
        ax.set_xticklabels(list(summaries), rotation=20, ha="right")
    return _png(fig)


def roi_figure(rois) -> str | None:
    """ROI centres on a glass brain (nilearn, offline)."""
    spheres = [r for r in rois if hasattr(r, "center")]
    if not spheres:
        return None
    from nilearn import plotting

    fig = Figure(figsize=(9, 2.6))
    # Value i is tab10's colour i (vmin 0, vmax 9), so the legend can match it.
    values = np.arange(len(spheres), dtype=float) % 10
    colors = [matplotlib.colormaps["tab10"](int(v)) for v in values]
    plotting.plot_markers(
        values,
        [r.center for r in spheres],
        node_size=[4 * r.radius for r in spheres],
        node_cmap="tab10",
        node_vmin=0,
        node_vmax=9,
        figure=fig,
        axes=(0.0, 0.0, 0.78, 1.0),
        colorbar=False,
        title="ROI centres",
    )
    # Which dot is which: a legend of the ROI names in the dots' colours.
    handles = [
        Line2D([], [], marker="o", linestyle="", color=color, label=r.name)
        for r, color in zip(spheres, colors, strict=True)
    ]
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    return _png(fig)


def maps_figure(maps) -> str:
    """Glass brains of the fold models' mean pattern and its z; its slices."""
    return glass_brain_figure(
        [
            (
                maps.to_img("pattern", "mean"),
                "pattern (Haufe), mean of the outer-fold models",
            ),
            (
                maps.to_img("pattern", "jackknife_z"),
                "its jackknife z across the outer-fold models, |z| > 1.96 "
                "(per voxel, uncorrected)",
                1.96,
            ),
        ],
        slices_of_first=True,
    )


def forest_figure(per_site, heterogeneity) -> str:
    """Per-site balanced accuracy and AUC with 95% intervals, and the pooled one.

    The pooled row shows the random-effects estimate with its interval and,
    thinner, the prediction interval for a new site; the legend sits below
    the panels, where it covers no row.
    """
    fig, axes = subplots(1, 2, figsize=(8, 1.6 + 0.45 * len(per_site)), sharey=True)
    positions = np.arange(len(per_site))[::-1] + 1
    for ax, metric in zip(axes, ("balanced_accuracy", "auc"), strict=True):
        estimate = per_site[metric].to_numpy()
        low, high = per_site[f"{metric}_low"], per_site[f"{metric}_high"]
        ax.errorbar(
            estimate,
            positions,
            xerr=[estimate - low, high - estimate],
            fmt="s",
            color="tab:blue",
            capsize=3,
            label="site (held out), 95% interval",
        )
        pooled = heterogeneity.loc[metric]
        if np.isfinite(pooled.get("prediction_low", np.nan)):
            ax.hlines(
                0,
                pooled["prediction_low"],
                pooled["prediction_high"],
                color="0.6",
                lw=1,
                label="prediction interval for a new site",
            )
        ax.errorbar(
            [pooled["random"]],
            [0],
            xerr=[
                [pooled["random"] - pooled["random_ci_low"]],
                [pooled["random_ci_high"] - pooled["random"]],
            ],
            fmt="D",
            color="black",
            capsize=3,
            label="random-effects mean, 95% interval",
        )
        ax.axvline(0.5, ls="--", color="grey", lw=1, label="chance")
        i2 = pooled["i2"]
        ax.set(
            title=f"{metric.replace('_', ' ')} (I² = "
            + (f"{i2:.0%})" if np.isfinite(i2) else "undefined: < 2 sites scored)"),
            xlim=(0, 1),
            ylim=(-0.7, len(per_site) + 0.7),
        )
    axes[0].set_yticks([*positions, 0])
    axes[0].set_yticklabels([*per_site.index, "pooled"])
    legend = {}  # one entry per label, from whichever panel drew it
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(
        legend.values(), legend.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
        ncol=2, fontsize=8, frameon=False,
    )  # fmt: skip
    fig.tight_layout()
    return _png(fig)


def roi_weights_figure(weights) -> str:
    """Each ROI's weight in the outer-fold models: mean and the folds' range.

    ``weights``: :meth:`ModelMaps.table` of the weights (standardised ROI
    features: a weight is the change of the score per SD of the ROI).
    """
    return _ranges_figure(
        weights,
        ("mean", "low", "high"),
        "weight in the outer-fold models (mean; bars: their 95% range)",
    )


def _ranges_figure(table, columns, xlabel) -> str:
    """One row per index entry: a value and its range, sorted, around 0."""
    value, low, high = columns
    table = table.sort_values(value)
    fig, ax = subplots(figsize=(6, 0.35 * len(table) + 1.3))
    y = np.arange(len(table))
    error = np.vstack([table[value] - table[low], table[high] - table[value]])
    ax.errorbar(table[value], y, xerr=error, fmt="o", capsize=3)
    ax.axvline(0, color="k", lw=1)
    ax.set_yticks(y, table.index)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return _png(fig)


def calibration_figure(result, n_bins=5) -> str:
    """Observed response rate vs mean predicted probability, by quantile bin.

    Out-of-fold probabilities of every repeat pooled; each point a fifth of
    the predictions (ranked by probability).
    """
    p = result.predictions["probability"].to_numpy()
    y = result.predictions["y_true"].to_numpy()
    order = np.argsort(p, kind="stable")
    bins = np.array_split(order, n_bins)
    fig, ax = subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.plot(
        [p[b].mean() for b in bins],
        [y[b].mean() for b in bins],
        "o-",
        lw=2,
        label=f"model ({n_bins} quantile bins)",
    )
    ax.set(
        xlabel="mean predicted probability of response",
        ylabel="observed response rate",
        title="Calibration (out-of-fold)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    return _png(fig)


def decision_curve_figure(curve) -> str:
    """Net benefit of the model, treat-all and treat-none by threshold."""
    fig, ax = subplots(figsize=(5.5, 4))
    t = curve.index.to_numpy()
    ax.plot(t, curve["net_benefit"], lw=2, label="act on the model")
    ax.plot(t, curve["treat_all"], lw=1, label="treat all")
    ax.plot(t, curve["treat_none"], "k--", lw=1, label="treat none")
    top = max(curve["net_benefit"].max(), curve["treat_all"].max(), 0.05)
    ax.set(
        xlabel="threshold probability",
        ylabel="net benefit",
        title="Decision curve (out-of-fold)",
        ylim=(-0.05, top * 1.1),
    )
    ax.legend(loc="upper right")
    return _png(fig)


def importance_figure(importance) -> str:
    """Each feature's AUC drop on the outer test folds, with its interval."""
    return _ranges_figure(
        importance,
        ("auc_drop", "ci_low", "ci_high"),
        "AUC drop with the feature shuffled (outer test folds)",
    )


def glass_brain_figure(images_and_titles, slices_of_first=False) -> str:
    """One glass brain per (image, title) or (image, title, threshold), stacked.

    ``slices_of_first``: then axial slices of the first image on nilearn's
    MNI152 template (shipped with nilearn: nothing is downloaded), through
    its peak.
    """
    from nilearn import plotting

    rows = len(images_and_titles) + bool(slices_of_first)
    fig = Figure(figsize=(9, 2.9 * rows))

    def place(row, title):
        # Each title on a line of its own above its brains: nilearn draws
        # titles inside the axes, where long ones cover the brain.
        top = 1.0 - row / rows
        fig.text(0.01, top - 0.005, title, va="top", ha="left", fontsize=9)
        return (0.0, top - 1.0 / rows, 1.0, 0.86 / rows)

    for row, (image, title, *threshold) in enumerate(images_and_titles):
        plotting.plot_glass_brain(
            image,
            figure=fig,
            axes=place(row, title),
            plot_abs=False,
            colorbar=True,
            cmap="RdBu_r",
            threshold=threshold[0] if threshold else None,
        )
    if slices_of_first:
        image, title, *_ = images_and_titles[0]
        data = np.asarray(image.dataobj)
        peak = np.unravel_index(np.argmax(np.abs(data)), data.shape)
        z = float((image.affine @ [*peak, 1])[2])
        plotting.plot_stat_map(
            image,
            display_mode="z",
            cut_coords=[z - 16, z - 8, z, z + 8, z + 16],
            figure=fig,
            axes=place(
                rows - 1, f"{title}: axial slices through its peak (z = {z:.0f} mm)"
            ),
            colorbar=True,
            cmap="RdBu_r",
        )
    return _png(fig)


def learning_curve_figure(curve) -> str:
    """The AUC and its interval's half-width against n: subsamples, fits, bands.

    The half-width asked for (``curve.half_width``) is drawn as a line.
    """
    points, half_width = curve.points, curve.half_width
    needed = curve.n_for_half_width(half_width)[0]
    # Out to where the interval is narrow enough, within 4 to 20 times this n.
    reach = needed if np.isfinite(needed) else 0
    upper = min(max(4 * curve.n_pilot, reach), 20 * curve.n_pilot)
    table = curve.extrapolate(np.geomspace(points["n"].min(), upper, 60))
    fig, (auc, width) = subplots(1, 2, figsize=(10, 4))
    fig.set_layout_engine("constrained")  # the two y labels must not overlap
    for ax, column, label in (
        (auc, "auc", "AUC (nested CV)"),
        (width, "half_width", "AUC interval half-width"),
    ):
        ax.plot(points["n"], points[column], "o", alpha=0.5, label="subsamples")
        ax.plot(table.index, table[column], lw=2, label="fit, extrapolated")
        ax.fill_between(
            table.index,
            table[f"{column}_low"],
            table[f"{column}_high"],
            alpha=0.25,
            label="95% interval",
        )
        ax.axvline(curve.n_pilot, color="k", ls=":", lw=1, label="this study")
        ax.set(xscale="log", xlabel="patients", ylabel=label)
    width.axhline(half_width, color="tab:red", lw=1, label=f"+-{half_width:g}")
    width.set_yscale("log")
    for ax in (auc, width):  # plain numbers on the log axes, not 10^k
        ax.xaxis.set_major_formatter(ScalarFormatter())
    width.yaxis.set_major_formatter(ScalarFormatter())
    width.yaxis.set_minor_formatter(ScalarFormatter())
    auc.set_title("Performance against n")
    width.set_title("Precision against n")
    width.legend(loc="upper right", fontsize="small")
    return _png(fig)
