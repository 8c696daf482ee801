"""CVSchemesResult: the estimates of every scheme, their summary, figures, page."""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd

from txpredict._io import atomic_directory
from txpredict.cv_schemes._schemes import SCHEMES
from txpredict.report import png_bytes, subplots

_METRICS = {"balanced_accuracy": "ba", "auc": "auc"}
_REFERENCES = ("loo_unweighted", "loo_prior_only")  # off the bias plot's scale


@dataclass
class CVSchemesResult:
    """Estimates of each CV scheme on replicate cohorts, against the truth.

    Attributes
    ----------
    estimates : DataFrame
        One row per effect, sample size, replicate and scheme: the estimated
        ``balanced_accuracy`` and ``auc``, the true values of the reported model
        on the independent sample, 95% intervals and the p-value of "above
        chance" a paper would compute from that one cohort.
    info : dict
        Settings and wall times (``wall_seconds``).
    """

    estimates: pd.DataFrame
    info: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per effect, sample size and scheme: bias, spread, RMSE, coverage, ...

        Columns per metric (``ba_`` balanced accuracy, ``auc_``): ``mean``
        estimate, ``true`` (mean true value), ``bias`` (mean of estimate - true),
        ``sd`` (across replicates), ``rmse``, ``coverage`` (share of 95% CIs
        containing the true value), ``max`` and ``q95`` of the estimates (the
        best of many small studies, Flint et al. 2021); and
        ``significant_rate``, the share of cohorts declared above chance at
        p < 0.05 (on null data: the false-positive rate).
        """
        e = self.estimates
        rows = []
        for (effect, n, scheme), g in e.groupby(["effect", "n", "scheme"], sort=False):
            row = {"effect": effect, "n": n, "scheme": scheme, "replicates": len(g)}
            for metric, short in _METRICS.items():
                error = g[metric] - g[f"true_{metric}"]
                covered = (g[f"{short}_ci_low"] <= g[f"true_{metric}"]) & (
                    g[f"true_{metric}"] <= g[f"{short}_ci_high"]
                )
                row |= {
                    f"{short}_mean": g[metric].mean(),
                    f"{short}_true": g[f"true_{metric}"].mean(),
                    f"{short}_bias": error.mean(),
                    f"{short}_sd": g[metric].std(ddof=1),
                    f"{short}_rmse": float(np.sqrt((error**2).mean())),
                    f"{short}_coverage": covered.mean(),
                    f"{short}_max": g[metric].max(),
                    f"{short}_q95": g[metric].quantile(0.95),
                }
            row["significant_rate"] = (g["p_value"] < 0.05).mean()
            rows.append(row)
        table = pd.DataFrame(rows)
        order = {s: i for i, s in enumerate(SCHEMES)}
        table["_order"] = table["scheme"].map(order)
        return (
            table.sort_values(["effect", "n", "_order"])
            .drop(columns="_order")
            .reset_index(drop=True)
        )

    # -- figures --------------------------------------------------------------
    def estimates_figure(self, effect, metric="balanced_accuracy"):
        """Distribution of each scheme's estimates per n, with the true values.

        Parameters
        ----------
        effect : str
            The population (``"none"`` or ``"prognostic"``).
        metric : str, default="balanced_accuracy"
            The metric whose estimates are drawn.
        """
        e = self.estimates[self.estimates["effect"] == effect]
        sizes = sorted(e["n"].unique())
        fig, axes = subplots(
            1, len(sizes), figsize=(3.2 * len(sizes), 4), sharey=True, squeeze=False
        )
        for ax, n in zip(axes[0], sizes, strict=True):
            g = e[e["n"] == n]
            data = [g.loc[g["scheme"] == s, metric].to_numpy() for s in SCHEMES]
            ax.boxplot(
                data,
                orientation="horizontal",
                tick_labels=list(SCHEMES),
                showfliers=True,
            )
            truth = [g.loc[g["scheme"] == s, f"true_{metric}"].mean() for s in SCHEMES]
            ax.scatter(
                truth,
                np.arange(1, len(SCHEMES) + 1),
                marker="|",
                s=200,
                color="tab:red",
                zorder=3,
                label="true (mean)",
            )
            ax.axvline(0.5, color="grey", lw=0.8, ls=":")
            ax.set_title(f"n = {n}")
            ax.set_xlabel(metric.replace("_", " "))
        axes[0][0].legend(loc="lower left", fontsize=8)
        fig.suptitle(f"Estimates by scheme, effect = {effect!r}")
        fig.tight_layout()
        return fig

    def bias_figure(self, metric="balanced_accuracy"):
        """Bias and spread of each scheme vs sample size, per effect.

        Parameters
        ----------
        metric : str, default="balanced_accuracy"
            The metric whose bias is drawn.
        """
        s = self.summary()
        short = _METRICS[metric]
        effects = list(dict.fromkeys(s["effect"]))
        fig, axes = subplots(
            2, len(effects), figsize=(5 * len(effects), 7), squeeze=False, sharex=True
        )
        for j, effect in enumerate(effects):
            g = s[s["effect"] == effect]
            for scheme in SCHEMES:
                if scheme in _REFERENCES:
                    continue
                h = g[g["scheme"] == scheme]
                style = (
                    {"ls": "-", "color": "black", "lw": 2.5}
                    if scheme == "nested"
                    else {"ls": "--"}
                )
                for row, column in ((0, "bias"), (1, "sd")):
                    axes[row][j].plot(
                        h["n"],
                        h[f"{short}_{column}"],
                        marker="o",
                        label=scheme,
                        **style,
                    )
            axes[0][j].axhline(0, color="grey", lw=0.8)
            axes[0][j].set_title(f"effect = {effect!r}")
            axes[0][j].set_ylabel(f"bias ({short}: estimate - true)")
            axes[1][j].set_ylabel(f"SD across replicates ({short})")
            axes[1][j].set_xlabel("n (patients)")
            axes[1][j].set_xscale("log")
            axes[1][j].set_xticks(sorted(g["n"].unique()))
            axes[1][j].xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            axes[1][j].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes[0][-1].legend(fontsize=7)
        fig.suptitle(
            "Bias and spread by scheme (the LOO references, unweighted and "
            "prior-only, sit near -0.5: see the table)",
            fontsize=9,
        )
        fig.tight_layout()
        return fig

    # -- output ---------------------------------------------------------------
    def save(self, out_dir, *, overwrite=False) -> Path:
        """Write CSV/JSON tables, PNG figures and ``report.html`` atomically.

        Parameters
        ----------
        out_dir : str or pathlib.Path
            The folder to write (tables, figures, a summary).
        overwrite : bool, default=False
            Replace what an earlier save wrote there.

        Returns
        -------
        Path
            The folder.
        """
        summary = self.summary()
        figures = {
            **{
                f"estimates_{effect}": self.estimates_figure(effect)
                for effect in self.info.get(
                    "effects", self.estimates["effect"].unique()
                )
            },
            "bias_and_spread": self.bias_figure(),
        }
        with atomic_directory(out_dir, overwrite=overwrite) as tmp:
            self.estimates.to_csv(
                tmp / "estimates.csv", index=False, float_format="%.6g"
            )
            summary.to_csv(tmp / "summary.csv", index=False, float_format="%.6g")
            (tmp / "summary.json").write_text(
                json.dumps(
                    {"info": self.info, "summary": summary.to_dict(orient="records")},
                    indent=2,
                    default=str,
                )
                + "\n",
                encoding="utf-8",
            )
            encoded = {}
            for name, fig in figures.items():
                png = png_bytes(fig)
                (tmp / f"{name}.png").write_bytes(png)
                encoded[name] = base64.b64encode(png).decode("ascii")
            (tmp / "report.html").write_text(self._html(summary, encoded), "utf-8")
        return Path(out_dir)

    def _html(self, summary, figures) -> str:
        from txpredict.report import table_cells, template

        shown = summary[
            [
                "effect",
                "n",
                "scheme",
                "ba_mean",
                "ba_true",
                "ba_bias",
                "ba_sd",
                "ba_rmse",
                "ba_coverage",
                "auc_bias",
                "auc_coverage",
                "significant_rate",
                "ba_max",
            ]
        ].set_index("effect")
        columns, rows = table_cells(shown)
        return template("cv_schemes.html.j2").render(
            info=self.info,
            version=version("txpredict"),
            created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            columns=columns,
            rows=rows,
            figures=figures,
        )
