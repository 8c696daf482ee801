"""Leakage screens: what in a user's own table could answer the question for the model.

txpredict's central question is whether the scan adds anything beyond the
baseline (demographics, clinical scores). A column measured after treatment
(``lsas_post``, ``hamd_w12``, a remission flag, a change score) in that
baseline answers it wrongly: the demographics-only model then predicts the
outcome from its own ingredient, and the scan looks worthless (measured: a
baseline with ``lsas_post`` scored balanced accuracy 0.99). The screens here
run on the participants table before any cross-validation:

- :func:`screen_names`: columns whose names say they were measured after
  treatment (post, week 12, follow-up, end, remission, response, change, ...;
  in English and German);
- :func:`screen_content`: columns that alone, or with one other column (their
  difference or ratio: a post score with its pre score), predict the outcome
  near-perfectly. The threshold (:data:`PROXY_AUC`) comes from
  ``benchmarks/leakage.py``.

A column either screen flags is kept out of ``Cohort.X`` until its role is
declared: ``post_treatment=[...]`` (never a predictor) or ``baseline=[...]``
(measured before treatment: a predictor after all).

Two more leaks come from the data rather than the table's columns:

- the same scan under two participant ids (:func:`refuse_duplicate_scans`,
  run by the nested CV and the modality evaluation on the features they
  extract; :class:`Fingerprints` of the training scans let
  ``validate_external`` and ``txpredict predict`` name a new patient who was
  a training patient);
- site confounding (:func:`site_confounding`): the outcome differing by site
  while the site is recognisable from the images, so that a model can score
  by recognising the scanner.

``benchmarks/leakage.py`` measures how often each is found, and how often a
clean cohort raises an alarm. Kapoor & Narayanan
(Patterns 2023) list this leak among the commonest behind retracted
machine-learning results; the tools users would otherwise pick (PHOTONAI,
julearn, neuropredict, nilearn's Decoder) do not screen for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from txpredict._inputs import participant_ids
from txpredict.errors import TxpredictError
from txpredict.features import StoredDesign, VoxelStore
from txpredict.stats import fast_auc

#: A column (or a pair's difference or ratio) whose AUC for the outcome
#: reaches this is named as a likely outcome proxy; for a continuous outcome,
#: the same bound on the absolute Spearman correlation.
PROXY_AUC = 0.9
#: ... when, in addition, its p-value is below this over the number of
#: features screened (Bonferroni): chance alone flags a clean table this
#: rarely, whatever its size.
PROXY_ALPHA = 0.01
#: Folds and repeats of the cross-validated encoding of categorical columns.
_FOLDS, _REPEATS = 5, 5
#: Most numeric columns whose pairs are screened (the most predictive ones).
_MAX_PAIRED = 25

#: Words (name tokens) that say a column was measured after treatment.
_POST_WORDS = {
    "post": "'post'",
    "posttreatment": "'post-treatment'",
    "posttx": "'post-treatment'",
    "after": "'after'",
    "end": "'end'",
    "endpoint": "'endpoint'",
    "final": "'final'",
    "followup": "'follow-up'",
    "fu": "'fu' (follow-up)",
    "remission": "'remission'",
    "remitted": "'remission'",
    "remitter": "'remission'",
    "response": "'response'",
    "responder": "'response'",
    "responded": "'response'",
    "change": "'change'",
    "delta": "'delta'",
    "diff": "'difference'",
    "difference": "'difference'",
    "improvement": "'improvement'",
    "improved": "'improvement'",
    "reduction": "'reduction'",
    "outcome": "'outcome'",
    # German
    "nach": "'nach' (after)",
    "ende": "'Ende' (end)",
    "abschluss": "'Abschluss' (end)",
    "katamnese": "'Katamnese' (follow-up)",
    "ansprechen": "'Ansprechen' (response)",
    "veraenderung": "'Veränderung' (change)",
    "veränderung": "'Veränderung' (change)",
    "besserung": "'Besserung' (improvement)",
    "verbesserung": "'Verbesserung' (improvement)",
}
#: Words followed by a number that name a time after baseline (week 12,
#: visit 3, t2): (the words, the first number that is after baseline).
_TIMEPOINTS = (
    ({"week", "wk", "w", "woche", "wo"}, 1, "week {}"),
    ({"month", "mo", "monat"}, 1, "month {}"),
    ({"visit", "v", "session", "sess"}, 2, "visit {}"),
    ({"t", "tp", "time", "timepoint", "wave"}, 2, "time point {}"),
)


def _tokens(name: str) -> list[str]:
    """Lower-case words and numbers of a column name.

    ``hamdWeek12`` gives ``['hamd', 'week', '12']``.
    """
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    spaced = re.sub(
        r"([A-Za-zäöüÄÖÜß])(\d)|(\d)([A-Za-zäöüÄÖÜß])", r"\1\3 \2\4", spaced
    )
    words = [w for w in re.split(r"[^0-9A-Za-zäöüÄÖÜß]+", spaced.casefold()) if w]
    # follow_up, follow-up, "follow up": one word.
    joined, skip = [], False
    for first, second in zip(words, [*words[1:], ""], strict=True):
        if skip:
            skip = False
            continue
        if first == "follow" and second == "up":
            joined.append("followup")
            skip = True
        elif first == "post" and second in {"treatment", "tx"}:
            joined.append("posttreatment")
            skip = True
        else:
            joined.append(first)
    return joined


def post_treatment_name(name: str) -> str | None:
    """Why a column's name says it was measured after treatment, or None.

    Examples
    --------
    >>> post_treatment_name("HAMD_week12")
    "its name says 'week 12'"
    >>> post_treatment_name("lsasPost")
    "its name says 'post'"
    >>> post_treatment_name("madrs_fu")
    "its name says 'fu' (follow-up)"
    >>> post_treatment_name("visit1_total") is None
    True
    >>> post_treatment_name("lsas_pre") is None and post_treatment_name("age") is None
    True
    """
    words = _tokens(name)
    for word in words:
        if word in _POST_WORDS:
            return f"its name says {_POST_WORDS[word]}"
    for word, after in zip(words, [*words[1:], ""], strict=True):
        if not after.isdigit():
            continue
        for names, first, text in _TIMEPOINTS:
            if word in names and int(after) >= first:
                return f"its name says '{text.format(int(after))}'"
    return None


def screen_names(columns) -> dict[str, str]:
    """Columns whose names say they were measured after treatment, with why."""
    found = {}
    for column in columns:
        reason = post_treatment_name(column)
        if reason is not None:
            found[column] = reason
    return found


def _strength(score, y, continuous) -> tuple[float, float]:
    """How well ``score`` alone orders the outcome, whichever its direction.

    Binary: max(AUC, 1 - AUC) and the Mann-Whitney p-value; continuous:
    |Spearman r| and its p-value. Rows where the score is missing are left
    out.
    """
    keep = np.isfinite(score)
    score, y = score[keep], y[keep]
    if len(score) < 4 or np.ptp(score) == 0 or np.ptp(y) == 0:
        return 0.0, 1.0
    if continuous:
        r, p = stats.spearmanr(score, y)
        return float(abs(r)), float(p)
    auc = fast_auc(y, score)
    p = stats.mannwhitneyu(score[y == 1], score[y == 0]).pvalue
    return max(auc, 1 - auc), float(p)


def _categorical_strength(values: pd.Series, y, continuous, seed=0):
    """How well a categorical column predicts the outcome, cross-validated.

    Each category is scored by the outcome mean of its training patients and
    the test patients ranked by it, fold by fold (repeated 5-fold); the
    folds' AUCs (|Spearman r|) are averaged. A column with a level per
    patient (an id, a free-text note) carries no information out of fold,
    however perfectly it separates the patients in sample. Ranking each fold
    on its own: pooled across folds, the encodings would carry each fold's
    training mean, which is anti-correlated with its test patients' outcomes.
    The p-value is the chi-square test of category x outcome (Kruskal-Wallis
    for a continuous outcome).

    Returns
    -------
    (strength, p_value)
    """
    text = values.astype(str).where(values.notna(), None).to_numpy()
    rng = np.random.default_rng(seed)
    strengths = []
    for _ in range(_REPEATS):
        folds = rng.permutation(np.arange(len(y)) % _FOLDS)
        for fold in range(_FOLDS):
            train, test = folds != fold, folds == fold
            means = pd.Series(y[train]).groupby(text[train]).mean()
            score = pd.Series(text[test]).map(means).to_numpy(dtype=float, copy=True)
            score[np.isnan(score)] = y[train].mean()
            if continuous:
                if np.ptp(score) > 0 and np.ptp(y[test]) > 0:
                    strengths.append(stats.spearmanr(score, y[test])[0])
            elif 0 < y[test].sum() < test.sum():
                strengths.append(fast_auc(y[test], score) - 0.5)
    present = values.notna().to_numpy()
    levels = pd.Series(text[present])
    if not strengths or levels.nunique() < 2:
        return 0.0, 1.0
    mean = float(np.mean(strengths))
    if continuous:
        groups = [y[present][levels.to_numpy() == v] for v in levels.unique()]
        p = stats.kruskal(*groups).pvalue
        return abs(mean), float(p)
    table = pd.crosstab(levels.to_numpy(), y[present])
    p = stats.chi2_contingency(table)[1] if table.shape[1] == 2 else 1.0
    return 0.5 + abs(mean), float(p)


def screen_content(
    table: pd.DataFrame,
    y,
    *,
    columns,
    baseline=(),
    continuous=False,
) -> dict[str, str]:
    """Columns that predict the outcome near-perfectly, alone or with another.

    A column is flagged when it (or its difference or ratio with another
    numeric column: a post score with its pre score is the responder rule)
    reaches :data:`PROXY_AUC` (AUC, or |Spearman r| for a continuous
    outcome) and the evidence excludes chance: its p-value is below
    :data:`PROXY_ALPHA` divided by the number of features screened
    (Bonferroni). With a handful of patients no column can be flagged by
    its content: the name screen still works.

    Parameters
    ----------
    table : DataFrame
        The participants table, rows aligned with ``y``.
    y : array-like
        The outcome (0/1, or a continuous change with ``continuous``).
    columns : sequence of str
        The columns to screen (not the id, images, outcome or arm).
    baseline : sequence of str
        Columns known to be measured before treatment (declared, or the pre
        score of the outcome rule): never blamed, but paired with the others.
    continuous : bool

    Returns
    -------
    dict of str to str
        Each suspected column and why (the AUC, or |Spearman r|, reached).
    """
    y = np.asarray(y, dtype=float)
    what = "|Spearman r|" if continuous else "AUC"
    numeric: dict[str, np.ndarray] = {}
    single: dict[str, tuple[float, float]] = {}
    for column in [*columns, *(b for b in baseline if b not in columns)]:
        values = table[column]
        as_numbers = pd.to_numeric(values, errors="coerce")
        if as_numbers.notna().sum() >= max(4, 0.8 * values.notna().sum()):
            numeric[column] = as_numbers.to_numpy(dtype=float)
            single[column] = _strength(numeric[column], y, continuous)
        else:
            single[column] = _categorical_strength(values, y, continuous)
    # (column, strength, p, why): every feature screened, then judged together.
    tested = [
        (c, strength, p, f"alone it predicts the outcome with {what} {strength:.2f}")
        for c, (strength, p) in single.items()
    ]
    # Pairs: a difference or a ratio of two scores (post - pre, post / pre)
    # can be the outcome itself when neither score alone is.
    # A column that reaches the bound alone answers for its pairs: pairing it
    # would only blame its innocent partners.
    paired = [c for c in numeric if single[c][0] < PROXY_AUC]
    paired = sorted(paired, key=lambda c: -single[c][0])[:_MAX_PAIRED]
    for i, first in enumerate(paired):
        for second in paired[i + 1 :]:
            a, b = numeric[first], numeric[second]
            with np.errstate(divide="ignore", invalid="ignore"):
                features = (a - b, np.where(b != 0, a / b, np.nan))
                features += (np.where(a != 0, b / a, np.nan),)
            blamed = _blame(first, second, single, baseline, columns)
            other = second if blamed == first else first
            for feature in features:
                strength, p = _strength(feature, y, continuous)
                tested.append(
                    (
                        blamed,
                        strength,
                        p,
                        f"with {other!r} (their difference or ratio) it predicts "
                        f"the outcome with {what} {strength:.2f}",
                    )
                )
    bound = PROXY_ALPHA / max(1, len(tested))
    found: dict[str, str] = {}
    for column, strength, p, why in sorted(tested, key=lambda t: -t[1]):
        if column is None or column not in columns or column in baseline:
            continue
        if column in found:
            continue
        if strength >= PROXY_AUC and p < bound:
            found[column] = why
    return found


def _blame(first, second, single, baseline, columns):
    """Which of a suspicious pair is the post-treatment one."""
    candidates = [c for c in (first, second) if c in columns and c not in baseline]
    if not candidates:
        return None
    return max(candidates, key=lambda c: single[c][0])


@dataclass
class Check:
    """One leakage or confounding check and what it found.

    Attributes
    ----------
    name : str
        What was checked.
    status : {"ok", "found", "declared", "skipped"}
        "found": something the user must look at; "declared": found, and the
        user declared how to treat it.
    finding : str
        What was found, in words, with the numbers.
    items : list of str
        The columns or participants concerned.
    """

    name: str
    status: str
    finding: str
    items: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """A JSON-ready dict (saved with the results)."""
        return {
            "name": self.name,
            "status": self.status,
            "finding": self.finding,
            "items": list(map(str, self.items)),
        }


def checks_frame(checks) -> pd.DataFrame:
    """Checks as a table (one row each), for reports and ``run``'s summary.

    Parameters
    ----------
    checks : iterable of Check or dict
        The checks, as :class:`Check` or their :meth:`Check.as_dict`.
    """
    return pd.DataFrame(
        [c.as_dict() if isinstance(c, Check) else c for c in checks],
        columns=["name", "status", "finding", "items"],
    )


class LeakageWarning(UserWarning):
    """Columns of the participants table look measured after treatment."""


#: Roles a participants-table column can have (``Cohort.roles``).
ROLES = (
    "id",
    "image",
    "outcome",
    "treatment",
    "post_treatment",
    "suspected_post_treatment",
    "baseline",
    "ignored",
)


def screen_table(
    table: pd.DataFrame,
    y,
    *,
    candidates,
    declared: dict,
    known_baseline=(),
    continuous=False,
) -> tuple[dict[str, list[str]], list[Check]]:
    """The name and content screens of a participants table, and their checks.

    Parameters
    ----------
    table : DataFrame
        The participants, rows aligned with ``y``.
    y : array-like
        The outcome.
    candidates : sequence of str
        Columns whose role was not declared (nor implied by the outcome
        rule): those a screen may flag.
    declared : dict of str to str
        Declared roles (column -> "post_treatment", "baseline", "ignored"):
        reported, never flagged.
    known_baseline : sequence of str
        Columns measured before treatment (declared, or the rule's pre
        score): paired with the candidates, never blamed.
    continuous : bool, default=False
        A continuous outcome (symptom change): columns are screened by
        their Spearman correlation with it instead of their AUC.

    Returns
    -------
    suspects : dict of str to list of str
        Each flagged column and why.
    checks : list of Check
    """
    by_name = screen_names(candidates)
    screened = [c for c in candidates if c in table]
    by_content = screen_content(
        table,
        y,
        columns=screened,
        baseline=[c for c in known_baseline if c in table],
        continuous=continuous,
    )
    suspects: dict[str, list[str]] = {}
    for found in (by_name, by_content):
        for column, reason in found.items():
            suspects.setdefault(column, []).append(reason)
    checks = [
        _screen_check(
            "post-treatment names",
            by_name,
            "named as measured after treatment",
        ),
        _screen_check(
            "outcome proxies",
            by_content,
            f"predicting the outcome near-perfectly (AUC or |r| {PROXY_AUC:g} "
            "or more, alone or with another column)",
        ),
    ]
    roles = {"post_treatment": [], "baseline": [], "ignored": []}
    for column, role in declared.items():
        roles[role].append(column)
    if any(roles.values()):
        said = {
            "post_treatment": "post-treatment (never predictors)",
            "baseline": "baseline (predictors, whatever the screens say)",
            "ignored": "ignored",
        }
        checks.append(
            Check(
                "declared roles",
                "declared",
                "; ".join(f"{said[r]}: {cols}" for r, cols in roles.items() if cols),
                [c for cols in roles.values() for c in cols],
            )
        )
    return suspects, checks


def listed_suspects(suspects: dict) -> str:
    """Suspected columns and why, in words: "'lsas_post': its name says 'post'"."""
    return "; ".join(f"{c!r}: {' and '.join(why)}" for c, why in suspects.items())


def _screen_check(name, found, what) -> Check:
    if not found:
        return Check(name, "ok", f"no undeclared column {what}")
    listed = "; ".join(f"{column}: {why}" for column, why in found.items())
    return Check(
        name,
        "found",
        f"{len(found)} undeclared column(s) {what}: {listed}. Kept out of the "
        "predictors until their role is declared.",
        list(found),
    )


#: Two scans whose features differ by less than this (root mean square, in
#: units of the cohort's between-patient SD after whitening) are taken for
#: one scan: different patients differ by about sqrt(2).
DUPLICATE_RMS = 0.1
#: Features a duplicate screen compares (a fixed random subset of voxels).
_FINGERPRINT_COLUMNS = 128


def _columns(features, columns) -> np.ndarray:
    """The ``columns`` of an array or of a design on disk."""
    if isinstance(features, VoxelStore):
        return features.take_columns(columns)
    return np.asarray(features)[:, columns]


def image_block(design) -> np.ndarray | VoxelStore | None:
    """The image features of a design (array, or the ``image_*`` columns)."""
    if isinstance(design, np.ndarray | VoxelStore):
        return design
    if isinstance(design, StoredDesign):
        return design.store
    if isinstance(design, pd.DataFrame):
        columns = [c for c in design.columns if str(c).startswith("image_")]
        return design[columns].to_numpy(dtype=float) if columns else None
    return None


@dataclass
class Fingerprints:
    """What a duplicate screen compares: a whitened subset of image features.

    Attributes
    ----------
    columns : ndarray of int
        The feature columns used (all of them, or a fixed random subset).
    mean, scale : ndarray
        Per column, the cohort's median and MAD-based SD (columns that do
        not vary are dropped).
    rotation : ndarray or None
        Whitening of the standardised columns (their principal axes over
        the root of their variances), when the cohort has enough patients.
    values : ndarray of shape (n_patients, n_components)
        The cohort's whitened features.
    ids : ndarray of str
    """

    columns: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    rotation: np.ndarray | None
    values: np.ndarray
    ids: np.ndarray

    @classmethod
    def of(cls, features, ids, seed=0) -> Fingerprints:
        """The fingerprints of a cohort's image features."""
        if not isinstance(features, VoxelStore):
            features = np.asarray(features)  # no copy of an array
        n, k = features.shape
        columns = np.arange(k)
        if k > _FINGERPRINT_COLUMNS:
            rng = np.random.default_rng(seed)
            columns = np.sort(rng.choice(k, _FINGERPRINT_COLUMNS, replace=False))
        # The subset first: a float64 copy of every voxel doubled a
        # whole-brain run's peak memory.
        part = np.asarray(_columns(features, columns), dtype=float)
        # Median and MAD: a few wild images (a failed preprocessing) would
        # inflate an SD until every other patient looked alike.
        mean = np.nanmedian(part, axis=0)
        scale = 1.4826 * np.nanmedian(np.abs(part - mean), axis=0)
        keep = np.isfinite(scale) & (scale > 0)
        columns, mean, scale = columns[keep], mean[keep], scale[keep]
        z = np.nan_to_num((part[:, keep] - mean) / scale)
        rotation = None
        if 0 < z.shape[1] <= n // 2:
            # Correlated features (left and right ROIs) would make two patients
            # look closer than they are: whiten, on the cohort's own axes (of
            # the values clipped at 5 MADs, for the same reason).
            covariance = np.atleast_2d(np.cov(np.clip(z, -5, 5), rowvar=False))
            values, vectors = np.linalg.eigh(covariance)
            kept = values > 1e-8 * values.max()
            rotation = vectors[:, kept] / np.sqrt(values[kept])
            z = z @ rotation
        return cls(
            columns,
            mean,
            scale,
            rotation,
            z.astype(np.float32),
            np.asarray(ids).astype(str),
        )

    def transform(self, features) -> np.ndarray:
        """Other patients' features in this cohort's whitened units."""
        part = np.asarray(_columns(features, self.columns), dtype=float)
        z = np.nan_to_num((part - self.mean) / self.scale)
        return z @ self.rotation if self.rotation is not None else z

    def bound(self, n_pairs) -> float:
        """The largest RMS difference taken for one scan, among ``n_pairs``.

        :data:`DUPLICATE_RMS`, or less with few features: with two ROI means
        two different patients come that close by chance. For whitened
        features of different patients, k RMS^2 / 2 is chi-square on k
        degrees of freedom; the bound leaves a chance of 0.1% that any of
        the pairs falls under it.
        """
        k = self.values.shape[1]
        if k == 0:
            return 0.0
        chance = stats.chi2.ppf(1e-3 / max(1, n_pairs), k)
        return float(min(DUPLICATE_RMS, np.sqrt(2 * chance / k)))

    def pairs(self, other=None, other_ids=None):
        """Pairs of scans that look the same: within the cohort, or to others.

        Returns
        -------
        list of (str, str, float)
            (id here, id there, RMS difference), closest first. Identical
            features always count; others when closer than :meth:`bound`.
        """
        a = self.values.astype(float)
        b = a if other is None else self.transform(other)
        b_ids = self.ids if other is None else np.asarray(other_ids, dtype=str)
        found = []
        if a.shape[1] == 0:
            return found
        n_pairs = len(a) * (len(a) - 1) // 2 if other is None else len(a) * len(b)
        bound = max(self.bound(n_pairs), 1e-9)
        squares_b = (b**2).sum(axis=1)
        for start in range(0, len(a), 1024):
            block = a[start : start + 1024]
            d2 = (block**2).sum(axis=1)[:, None] + squares_b[None, :] - 2 * block @ b.T
            rms = np.sqrt(np.maximum(d2, 0) / a.shape[1])
            for i, j in zip(*np.nonzero(rms < bound), strict=True):
                i = start + i
                if other is None and j <= i:
                    continue
                found.append(
                    (str(self.ids[i]), str(b_ids[j]), float(rms[i - start, j]))
                )
        return sorted(found, key=lambda pair: pair[2])


def describe_pairs(pairs, limit=5) -> str:
    """Pairs of ids in words: "sub-03 and sub-17 (identical), ..."."""
    parts = [
        f"{a} and {b} ("
        + ("identical" if rms < 1e-6 else f"RMS difference {rms:.3f} SD")
        + ")"
        for a, b, rms in pairs[:limit]
    ]
    more = f", and {len(pairs) - limit} more pair(s)" if len(pairs) > limit else ""
    return ", ".join(parts) + more


def refuse_duplicate_scans(design, ids) -> None:
    """Refuse a cohort in which one scan appears under two participant ids.

    The same scan twice puts one patient in a training and a test fold: the
    model is then scored on a patient it has seen. Compares the image
    features already extracted (never a second read of the images).

    Raises
    ------
    TxpredictError
        Naming each pair of ids.
    """
    features = image_block(design)
    if features is None or len(features) < 2:
        return
    pairs = Fingerprints.of(features, ids).pairs()
    if pairs:
        raise TxpredictError(
            f"The same scan appears under two participant ids: {describe_pairs(pairs)}"
            ". One patient in two rows would sit in a training and a test fold, and "
            "the model would be scored on a patient it has seen. Remove the copies "
            "from participants.tsv (or point each id to its own scan)."
        )


def fingerprints_of(design, X) -> Fingerprints | None:
    """The fingerprints of a training design's image features (None: none)."""
    features = image_block(design)
    if features is None:
        return None
    return Fingerprints.of(features, participant_ids(X))


def seen_scans(fingerprints, design, X) -> list[tuple[str, str, float]]:
    """Rows of ``X`` (its ``design``) whose scan is one of the fingerprinted ones.

    Returns
    -------
    list of (str, str, float)
        (training id, id in X, RMS difference); empty without fingerprints.
    """
    features = image_block(design)
    if fingerprints is None or features is None:
        return []
    return fingerprints.pairs(features, participant_ids(X))


#: Column names that usually hold the site, scanner or batch of each patient.
SITE_LIKE_COLUMNS = (
    "site",
    "scanner",
    "center",
    "centre",
    "clinic",
    "hospital",
    "batch",
    "study",
    "sequence",
    "protocol",
)
#: The site is taken as recognisable from the images when a classifier of
#: the image features beats chance by this much (cross-validated balanced
#: accuracy).
SITE_ABOVE_CHANCE = 0.15
#: The outcome is taken to differ by site below this p-value: at 0.05, sites
#: whose scanners differ (as they do) were flagged in 3-6.5% of cohorts whose
#: response rates did not differ (``benchmarks/leakage.py``).
SITE_ALPHA = 0.01


def site_predictability(sites, features, seed=0) -> float | None:
    """Cross-validated balanced accuracy of telling the sites from the images.

    An L2 logistic regression on the standardised image features (reduced to
    20 principal components, inside each fold, when there are more), in
    stratified 5-fold CV. None when a site has fewer than 2 patients.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sites = np.asarray(sites).astype(str)
    counts = pd.Series(sites).value_counts()
    if len(counts) < 2 or counts.min() < 2:
        return None
    features = np.nan_to_num(np.asarray(features, dtype=float))
    steps = [StandardScaler()]
    if features.shape[1] > 20:
        steps.append(PCA(20, random_state=seed))
    steps.append(LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(min(5, int(counts.min())), shuffle=True, random_state=seed)
    predicted = cross_val_predict(make_pipeline(*steps), features, sites, cv=folds)
    recalls = [np.mean(predicted[sites == s] == s) for s in counts.index]
    return float(np.mean(recalls))


def site_confounding(sites, y, features=None, *, column="site", handled=None) -> Check:
    """Whether the outcome differs by site while the site shows in the images.

    Then a model can score by recognising the scanner instead of the
    patient's brain (measured on a four-scanner synthetic cohort: balanced
    accuracy 0.62 with no brain signal at all).

    Parameters
    ----------
    sites : array-like
        The site (scanner, batch) of each patient.
    y : array-like
        The outcome (0/1; a continuous one is tested by Kruskal-Wallis).
    features : array-like or None
        The image features the model reads (None: not assessed).
    column : str
        The site column's name, for the text.
    handled : str or None
        How the analysis deals with sites (ComBat, leave-site-out), if it
        does: then the check is "declared", not "found".

    Returns
    -------
    Check
    """
    sites = np.asarray(sites).astype(str)
    y = np.asarray(y, dtype=float)
    names = list(pd.unique(sites))
    if len(names) < 2:
        return Check("site confounding", "ok", f"one site in {column!r}")
    continuous = len(np.unique(y)) > 2
    if continuous:
        p = stats.kruskal(*(y[sites == s] for s in names)).pvalue
        by_site = ", ".join(f"{s} {y[sites == s].mean():.1f}" for s in names)
        outcome = f"the mean outcome differs by site ({by_site}; Kruskal-Wallis"
    else:
        p = stats.chi2_contingency(pd.crosstab(sites, y))[1]
        by_site = ", ".join(f"{s} {y[sites == s].mean():.0%}" for s in names)
        outcome = f"the response rate differs by site ({by_site}; chi-square"
    outcome += f" p = {p:.3g})"
    accuracy = None if features is None else site_predictability(sites, features)
    chance = 1 / len(names)
    recognisable = accuracy is not None and accuracy >= chance + SITE_ABOVE_CHANCE
    images = (
        "the images were not assessed"
        if accuracy is None
        else f"the site is {'' if recognisable else 'not '}recognisable from the "
        f"image features (cross-validated balanced accuracy {accuracy:.2f}, chance "
        f"{chance:.2f})"
    )
    if p >= SITE_ALPHA:
        return Check(
            "site confounding",
            "ok",
            f"{column!r}: the outcome does not differ detectably by site "
            f"({by_site}; p = {p:.3g}); {images}",
        )
    if not recognisable:
        return Check("site confounding", "ok", f"{column!r}: {outcome}, but {images}")
    finding = (
        f"{column!r}: {outcome} and {images}: a model can score by recognising the "
        "scanner rather than the patient."
    )
    if handled:
        return Check("site confounding", "declared", f"{finding} Handled: {handled}.")
    return Check(
        "site confounding",
        "found",
        f'{finding} Harmonise the images (harmonize = "combat" in [model]) and '
        f'evaluate leave-site-out (outer_cv = "leave-site-out", groups = '
        f'"{column}" in [cv]).',
        [column],
    )


def site_column(table: pd.DataFrame, configured=None) -> str | None:
    """The column holding each patient's site: configured, or named like one."""
    if configured and configured in table.columns:
        return configured
    for column in table.columns:
        if str(column).casefold() in SITE_LIKE_COLUMNS:
            return column
    return None
