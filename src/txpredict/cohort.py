"""Cohorts: a participants table, one image per subject and the outcome.

On disk a cohort is a BIDS-like folder::

    participants.tsv        participant_id, age, sex, ..., treatment, responder
    participants.json       (optional) column descriptions; "Levels" of treatment
    sub-01/func/sub-01_task-faces_stat-effect_statmap.nii.gz
    ...

:func:`load_cohort` reads it, checks everything a later step would trip over
(with errors that name the subject, file or column), and returns a
:class:`Cohort` whose ``X`` never contains the outcome or post-treatment scores.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from txpredict._images import Grid, load_image, read_header
from txpredict._participants import check_codings, check_scores, read_participants
from txpredict.errors import CohortError, DimensionError, GridMismatchError, ImageError
from txpredict.leakage import LeakageWarning, listed_suspects, screen_table

#: Where :func:`load_cohort` looks for each subject's image by default.
DEFAULT_IMAGE_PATTERN = (
    "sub-{subject}/func/sub-{subject}_task-faces_stat-effect_statmap.nii.gz"
)
_DEFAULT_TREATMENT = "treatment"


@dataclass(frozen=True)
class SymptomReduction:
    """Responders from pre/post symptom scores: relative reduction >= threshold.

    A patient responds when ``(pre - post) / pre >= min_reduction``; the usual
    definition is a reduction of at least 50% (e.g. LSAS, HRSD, PDSS).

    Parameters
    ----------
    pre, post : str
        Columns of pre- and post-treatment scores (higher = more severe).
    min_reduction : float, default=0.5

    Examples
    --------
    >>> import pandas as pd
    >>> import txpredict as tp
    >>> scores = pd.DataFrame({"pre": [60, 50, 40], "post": [20, 40, 20]})
    >>> tp.SymptomReduction("pre", "post")(scores).tolist()
    [1, 0, 1]
    """

    pre: str
    post: str
    min_reduction: float = 0.5

    def __call__(self, table: pd.DataFrame) -> pd.Series:
        """Responder flags (1/0; NaN where a score is missing)."""
        pre, post = _scores(table, self.pre, self.post)
        bad = table.index[pre.notna() & (pre <= 0)]
        if len(bad):
            raise CohortError(
                f"Pre-treatment scores in {self.pre!r} must be positive to compute a "
                f"relative reduction; subject(s) {list(bad)[:5]} have <= 0."
            )
        reduction = (pre - post) / pre
        responder = (reduction >= self.min_reduction).astype("Int64")
        return responder.where(reduction.notna(), pd.NA)

    def describe(self) -> str:
        """The rule in words, for reports."""
        return (
            f"responder = ({self.pre} - {self.post}) / {self.pre} >= "
            f"{self.min_reduction:g} ({self.min_reduction:.0%} symptom reduction)"
        )


@dataclass(frozen=True)
class SymptomChange:
    """A continuous outcome from pre/post symptom scores (for ResponseRegressor).

    Parameters
    ----------
    pre, post : str
        Columns of pre- and post-treatment scores (higher = more severe).
    scale : {"percent", "points"}, default="percent"
        ``"percent"``: the relative reduction 100 (pre - post) / pre (50 is the
        usual responder threshold); ``"points"``: the reduction pre - post.
        For the post-treatment score adjusted for baseline, predict ``post``
        itself (``load_cohort(outcome=SymptomChange(pre, post, "post"))``) and
        keep ``pre`` among the model's demographic columns.

    Examples
    --------
    >>> import pandas as pd
    >>> import txpredict as tp
    >>> scores = pd.DataFrame({"pre": [60, 50, 40], "post": [20, 40, 20]})
    >>> tp.SymptomChange("pre", "post")(scores).round(1).tolist()
    [66.7, 20.0, 50.0]
    """

    pre: str
    post: str
    scale: str = "percent"

    def __call__(self, table: pd.DataFrame) -> pd.Series:
        """The change of each patient (NaN where a score is missing)."""
        if self.scale not in ("percent", "points", "post"):
            raise CohortError(
                "The 'scale' of SymptomChange must be 'percent', 'points' or 'post'. "
                f"Got {self.scale!r} instead."
            )
        pre, post = _scores(table, self.pre, self.post)
        if self.scale == "post":
            return post
        if self.scale == "points":
            return pre - post
        bad = table.index[pre.notna() & (pre <= 0)]
        if len(bad):
            raise CohortError(
                f"Pre-treatment scores in {self.pre!r} must be positive to compute a "
                f"percent change; subject(s) {list(bad)[:5]} have <= 0."
            )
        return 100.0 * (pre - post) / pre

    @property
    def column(self) -> str:
        """Name of the outcome column the rule creates."""
        return self.post if self.scale == "post" else "symptom_change"

    def describe(self) -> str:
        """The rule in words, for reports."""
        return {
            "percent": (
                f"symptom change = 100 ({self.pre} - {self.post}) / {self.pre} (%)"
            ),
            "points": f"symptom change = {self.pre} - {self.post} (points)",
            "post": f"post-treatment score {self.post} (adjust for {self.pre})",
        }[self.scale]


def _scores(table, *columns):
    """Numeric columns of the participants table (text becomes NaN)."""
    for column in columns:
        if column not in table.columns:
            raise CohortError(
                f"The outcome rule needs the column {column!r}, which "
                f"participants.tsv lacks; its columns are {list(table.columns)}."
            )
    return [pd.to_numeric(table[c], errors="coerce") for c in columns]


@dataclass(eq=False)
class Cohort:
    """Participants, their images and their outcome.

    Parameters
    ----------
    participants : DataFrame
        One row per participant, indexed by ``participant_id``, with image
        column(s) (paths or nibabel images), demographic/clinical columns, the
        treatment arm and the outcome.
    outcome : str, default="responder"
        Column of the 0/1 responder flag (1 = responder).
    treatment_column : str or None, default="treatment"
        Column of the treatment arm, or None for a single-arm study.
    arms : tuple of str or None, default=None
        Declared treatment arms; None takes the values present.
    excluded_columns : tuple of str, default=()
        Columns kept out of ``X`` besides the outcome (e.g. post-treatment
        scores, which would leak the outcome).
    outcome_rule : str, default=""
        How the outcome was defined, in words.
    ground_truth : DataFrame or None, default=None
        Synthetic cohorts only: the true response probability under each arm,
        the better arm and the latent brain signals.
    info : dict
        Generator parameters and other metadata.
    root : pathlib.Path or None
        Dataset folder, when read from disk.
    min_per_class : int, default=2
        Fewest subjects allowed in each outcome class.
    outcome_type : {"binary", "continuous"}, default="binary"
        A 0/1 responder flag, or a number per patient (a symptom change, for a
        ResponseRegressor). A ``SymptomChange`` rule implies "continuous".
    roles : dict of str to str
        The role of each participants-table column
        (:data:`txpredict.leakage.ROLES`): ``load_cohort`` fills it.
    checks : list of txpredict.leakage.Check
        What the leakage screens of ``load_cohort`` found.

    Attributes
    ----------
    X : DataFrame
        Predictors: every column but the outcome and excluded columns.
    y : Series of int
        Responder flag.
    treatment : Series or None
        Treatment arm of each participant.
    """

    participants: pd.DataFrame
    outcome: str = "responder"
    treatment_column: str | None = _DEFAULT_TREATMENT
    arms: tuple[str, ...] | None = None
    excluded_columns: tuple[str, ...] = ()
    outcome_rule: str = ""
    ground_truth: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)
    root: Path | None = None
    min_per_class: int = 2
    outcome_type: str = "binary"
    roles: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)

    def __post_init__(self):
        self.participants = _validate_table(
            self.participants,
            self.outcome,
            self.treatment_column,
            self.arms,
            self.min_per_class,
            self.outcome_type,
        )
        if self.treatment_column is not None and self.arms is None:
            self.arms = tuple(sorted(self.participants[self.treatment_column].unique()))
        elif self.arms is not None:
            self.arms = tuple(self.arms)

    @property
    def X(self) -> pd.DataFrame:
        """Predictors (no outcome, no post-treatment columns)."""
        drop = [self.outcome, *self.excluded_columns]
        return self.participants.drop(
            columns=[c for c in drop if c in self.participants]
        )

    @property
    def y(self) -> pd.Series:
        """Responder flag (1 = responder), or the continuous outcome."""
        if self.outcome_type == "continuous":
            return self.participants[self.outcome].astype(float)
        return self.participants[self.outcome].astype(int)

    @property
    def treatment(self) -> pd.Series | None:
        """Treatment arm per participant (None for single-arm cohorts)."""
        if self.treatment_column is None:
            return None
        return self.participants[self.treatment_column]

    def baseline_columns(self) -> list[str]:
        """The baseline covariates: what a demographics-only model may read.

        Every column of ``X`` whose role is "baseline" (not the images nor
        the treatment arm). Refused while columns that look measured after
        treatment are undeclared (role "suspected_post_treatment"): a
        baseline derived then could hand the model the outcome's own
        ingredient.

        Raises
        ------
        CohortError
            Naming each suspected column, why it looks post-treatment, and
            the ways to declare it.
        """
        suspects = self.info.get("suspected_post_treatment", {})
        if suspects:
            listed = listed_suspects(suspects)
            names = [*suspects]
            raise CohortError(
                "The baseline covariates cannot be derived from this table: "
                f"column(s) look measured after treatment ({listed}). In a "
                "baseline they would predict the outcome from its own ingredient "
                "and make the scan look worthless. Declare each: measured after "
                f"treatment, post_treatment={names!r} (TOML: post_treatment = "
                "[...] in [data]) keeps it out of every model; measured before "
                f"treatment, baseline={names!r} (TOML: baseline = [...] in [data]) "
                "makes it a covariate. Or name the baseline yourself "
                "(demographic_columns = [...] in [model])."
            )
        return [
            c
            for c in self.X.columns
            if self.roles.get(c) == "baseline" and not holds_image_paths(self.X[c])
        ]

    @property
    def n_subjects(self) -> int:
        """Number of participants."""
        return len(self.participants)

    def __len__(self) -> int:
        return self.n_subjects

    def __repr__(self) -> str:
        y = self.y
        if self.outcome_type == "continuous":
            text = (
                f"Cohort({self.n_subjects} participants, {self.outcome} "
                f"{y.mean():.1f} +- {y.std():.1f}"
            )
        else:
            text = (
                f"Cohort({self.n_subjects} participants, {int(y.sum())} responders "
                f"({y.mean():.0%})"
            )
        if self.treatment is not None:
            counts = self.treatment.value_counts().reindex(self.arms, fill_value=0)
            text += ", arms " + ", ".join(f"{a}: {n}" for a, n in counts.items())
        return text + (f", root={str(self.root)!r})" if self.root else ")")

    def subset(self, participant_ids: Sequence) -> Cohort:
        """The cohort restricted to some participants (ground truth included).

        Parameters
        ----------
        participant_ids : sequence of str
            The participants to keep, in the order wanted.
        """
        ids = list(participant_ids)
        gt = None if self.ground_truth is None else self.ground_truth.loc[ids]
        return Cohort(
            self.participants.loc[ids],
            self.outcome,
            self.treatment_column,
            self.arms,
            self.excluded_columns,
            self.outcome_rule,
            gt,
            dict(self.info),
            self.root,
            self.min_per_class,
            self.outcome_type,
            dict(self.roles),
            list(self.checks),
        )


def holds_image_paths(values: pd.Series) -> bool:
    """Whether a column lists image files (a path column is no covariate)."""
    values = values.dropna()
    if pd.api.types.is_numeric_dtype(values) or values.empty:
        return False
    return bool(values.astype(str).str.contains(r"\.nii(?:\.gz)?$").all())


def _plain(value):
    """Numpy scalars as Python values, for readable error messages."""
    return value.item() if isinstance(value, np.generic) else value


def _validate_table(
    table, outcome, treatment_column, arms, min_per_class, outcome_type="binary"
):
    table = table.copy()
    if table.index.name != "participant_id":
        if "participant_id" not in table.columns:
            raise CohortError(
                "The participants table needs a 'participant_id' column (or index)."
            )
        table = table.set_index("participant_id")
    table.index = table.index.astype(str)
    duplicated = table.index[table.index.duplicated()].unique().tolist()
    if duplicated:
        raise CohortError(
            f"participant_id must be unique; repeated: {duplicated[:10]}. Remove or "
            "rename the duplicate rows of participants.tsv."
        )
    if outcome not in table.columns:
        raise CohortError(
            f"The outcome column {outcome!r} is not in the participants table; its "
            f"columns are {list(table.columns)}. Pass outcome='<column>' or "
            "outcome=txpredict.SymptomReduction(pre=..., post=...)."
        )
    values = table[outcome]
    missing = table.index[values.isna()].tolist()
    if missing:
        raise CohortError(
            f"The outcome {outcome!r} is missing for {len(missing)} participant(s): "
            f"{missing[:10]}. Fill it in or remove them from participants.tsv."
        )
    if outcome_type == "continuous":
        numbers = pd.to_numeric(values, errors="coerce")
        bad = table.index[numbers.isna()].tolist()
        if bad:
            shown = {pid: _plain(values[pid]) for pid in bad[:5]}
            raise CohortError(
                f"The outcome {outcome!r} must be numbers (a symptom change); "
                f"participant(s) have other values: {shown}. Fix them in "
                "participants.tsv."
            )
        table[outcome] = numbers.astype(float)
        if numbers.nunique() < 2:
            raise CohortError(
                f"The outcome {outcome!r} takes the single value {numbers.iloc[0]:g} "
                "for every participant: there is nothing to predict. Check the "
                "outcome column or rule (pre and post scores in the right columns?)."
            )
        return _validate_treatment(table, treatment_column, arms)
    numeric = pd.to_numeric(
        values.astype(object).replace({True: 1, False: 0}), errors="coerce"
    )
    not_binary = table.index[~numeric.isin([0, 1])].tolist()
    if not_binary:
        shown = {pid: _plain(values[pid]) for pid in not_binary[:5]}
        raise CohortError(
            f"The outcome {outcome!r} must be binary (1 = responder, 0 = "
            f"non-responder); participant(s) have other values: {shown}. For symptom "
            "scores use outcome=txpredict.SymptomReduction(pre=..., post=...)."
        )
    table[outcome] = numeric.astype(int)
    counts = table[outcome].value_counts().reindex([0, 1], fill_value=0)
    for label, n in counts.items():
        if n < min_per_class:
            name = "responders" if label == 1 else "non-responders"
            raise CohortError(
                f"The cohort has {n} {name} (outcome {outcome!r} = {label}); at "
                f"least {min_per_class} of each class are needed to learn and "
                "evaluate a classifier. Check the outcome column or rule."
            )
    return _validate_treatment(table, treatment_column, arms)


def _validate_treatment(table, treatment_column, arms):
    if treatment_column is not None:
        if treatment_column not in table.columns:
            raise CohortError(
                f"The treatment column {treatment_column!r} is not in the "
                f"participants table; its columns are {list(table.columns)}. Pass "
                "treatment=None for a single-arm study."
            )
        arm = table[treatment_column]
        no_arm = table.index[arm.isna()].tolist()
        if no_arm:
            raise CohortError(
                f"Treatment arm {treatment_column!r} is missing for participant(s) "
                f"{no_arm[:10]}; fill it in or remove them."
            )
        table[treatment_column] = arm.astype(str)
        _refuse_split_arms(table[treatment_column], treatment_column)
        if arms is not None:
            declared = [str(a) for a in arms]
            unknown = table.index[~table[treatment_column].isin(declared)].tolist()
            if unknown:
                shown = {pid: table.at[pid, treatment_column] for pid in unknown[:5]}
                raise CohortError(
                    f"Treatment arm values not among the declared arms {declared}: "
                    f"{shown}. Fix the values in participants.tsv or declare the "
                    "arms (arms=... or 'Levels' in participants.json)."
                )
    return table


def _spelling_clashes(values: pd.Series) -> list[list[str]]:
    """Groups of text values that differ only in case or spaces ('f', 'F ')."""
    spellings = pd.Series(values.dropna().astype(str).unique())
    keys = spellings.str.strip().str.casefold()
    return [sorted(group) for _, group in spellings.groupby(keys) if len(group) > 1]


def _refuse_split_arms(arm: pd.Series, column: str) -> None:
    """'CBT' and 'CBT ' would be two arms of a few patients each: refuse them."""
    clashes = _spelling_clashes(arm)
    if clashes:
        raise CohortError(
            f"Treatment arm values of {column!r} differ only in case or spaces: "
            f"{clashes}; they would be counted as different arms. Use one spelling "
            "for each arm in participants.tsv (and declare them as 'Levels' in "
            "participants.json)."
        )


#: Column names that usually hold the treatment arm.
_ARM_LIKE_COLUMNS = ("arm", "group", "treatment_arm", "condition", "intervention")


def _warn_about_spellings(table: pd.DataFrame, skip=()) -> None:
    """Warn when text values differ only in case or spaces ('f' and 'F')."""
    for column in table.columns.drop(["participant_id", *skip], errors="ignore"):
        values = table[column]
        if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        clashes = _spelling_clashes(values)
        if clashes:
            warnings.warn(
                f"Column {column!r} of participants.tsv: {clashes} differ only in "
                "case or spaces and count as different categories. Use one "
                "spelling for each in participants.tsv.",
                UserWarning,
                stacklevel=3,
            )


def _read_sidecar(path: Path) -> dict:
    """participants.json (column descriptions, arm ``Levels``), or {} if absent."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM from Excel
    try:
        sidecar = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CohortError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}. Fix it (a JSON validator shows where), or remove the "
            "file: it is optional."
        ) from None
    if not isinstance(sidecar, dict) or not all(
        isinstance(v, dict) for v in sidecar.values()
    ):
        raise CohortError(
            f"{path} must map each column name to its description, e.g. "
            '{"arm": {"Levels": {"CBT": "...", "CBT+SSRI": "..."}}}.'
        )
    return sidecar


def image_path(root, pattern: str, participant_id: str) -> Path:
    """Where a participant's image is: ``root`` / ``pattern`` filled in (absolute).

    Examples
    --------
    >>> image_path("/data/study", "{participant_id}/anat/{subject}.nii.gz", "sub-01")
    PosixPath('/data/study/sub-01/anat/01.nii.gz')
    """
    return Path(root).resolve() / _format_pattern(pattern, str(participant_id))


def _format_pattern(pattern: str, participant_id: str) -> str:
    subject = participant_id.removeprefix("sub-")
    try:
        return pattern.format(participant_id=participant_id, subject=subject)
    except (KeyError, IndexError) as exc:
        raise CohortError(
            f"image_pattern {pattern!r} has an unknown placeholder {exc}; use "
            "{participant_id} (as in participants.tsv) or {subject} (without 'sub-')."
        ) from None


def read_every_image(cohort: Cohort) -> dict[str, list[str]]:
    """Decompress every image once: the full check behind ``validate --full``.

    ``load_cohort`` reads headers only; a file truncated after its header
    fails here, with the participant named, instead of minutes into an
    analysis.

    Returns
    -------
    dict of str to list of str
        For each image column, the participants whose images hold NaN or
        infinite voxels (SPM writes NaN outside the brain): extraction refuses
        them unless ``nonfinite="ignore"``.
    """
    columns = list(cohort.info.get("grids", {})) or ["image"]
    nonfinite, constant = {}, []
    for column in columns:
        nonfinite[column] = []
        for pid, image in cohort.participants[column].items():
            data = load_image(image, pid)[1]
            finite = np.isfinite(data)
            if not finite.all():
                nonfinite[column].append(pid)
            values = data[finite]
            if values.size == 0 or values.min() == values.max():
                constant.append(f"{pid} ({image})")
    if constant:
        raise ImageError(
            f"{len(constant)} image(s) hold a single value everywhere (empty or "
            f"failed first-level maps): {constant[:5]}. Re-create them, or leave "
            "those participants out."
        )
    return nonfinite


def check_cohort_images(table: pd.DataFrame, columns: Sequence[str]) -> dict[str, Grid]:
    """Check every image's header: readable, 3D/4D, one grid per image column.

    Reads headers only (cheap, even for .nii.gz). A truncated file whose header
    is intact is caught later, when its voxels are read.
    """
    grids = {}
    for column in columns:
        reference = None
        for pid, image in table[column].items():
            img = read_header(image, pid)
            shape = img.shape[:3] if img.ndim == 4 and img.shape[3] == 1 else img.shape
            if len(shape) not in (3, 4):
                raise DimensionError(
                    f"The {column!r} image of participant {pid!r} ({image}) is "
                    f"{len(shape)}D with shape {img.shape}; expected 3D or 4D."
                )
            if reference is not None and len(shape) != reference[2]:
                raise DimensionError(
                    f"The {column!r} image of participant {pid!r} ({image}) is "
                    f"{len(shape)}D with shape {img.shape}, unlike participant "
                    f"{reference[0]!r}'s, which is {reference[2]}D: one column "
                    "holds one kind of image (3D maps, or 4D runs). Check "
                    "image_pattern, or give 4D runs their own column."
                )
            grid = Grid.of(img)
            if reference is None:
                reference = (pid, grid, len(shape))
            elif grid != reference[1]:
                raise GridMismatchError(
                    f"The {column!r} image of participant {pid!r} ({image}) is on "
                    f"{grid}, unlike participant {reference[0]!r}'s on "
                    f"{reference[1]}. All images of a cohort must share one grid "
                    "(txpredict never resamples subjects silently): resample them "
                    "to one reference (nilearn.image.resample_to_img) first."
                )
        grids[column] = reference[1]
    return grids


def load_cohort(
    root,
    image_pattern: str | Mapping[str, str] = DEFAULT_IMAGE_PATTERN,
    *,
    outcome: str | SymptomReduction | SymptomChange = "responder",
    treatment: str | None = _DEFAULT_TREATMENT,
    arms: Sequence[str] | None = None,
    check_images: bool = True,
    missing_images: str = "refuse",
    min_per_class: int = 2,
    outcome_type: str = "binary",
    post_treatment: Sequence[str] = (),
    baseline: Sequence[str] = (),
    ignored: Sequence[str] = (),
) -> Cohort:
    """Read a BIDS-like dataset folder into a :class:`Cohort`.

    Parameters
    ----------
    root : str or pathlib.Path
        Folder holding ``participants.tsv`` (tab-separated, ``n/a`` for missing
        values) and the images.
    image_pattern : str or dict of str to str
        Path of each subject's image relative to ``root``, with the placeholders
        ``{participant_id}`` (as in participants.tsv) and ``{subject}`` (without
        the ``sub-`` prefix). A dict maps image columns of ``X`` to patterns,
        e.g. ``{"image": ..., "rest": ...bold.nii.gz}``.
    outcome : str, SymptomReduction or SymptomChange, default="responder"
        A 0/1 responder column, a rule deriving responders from pre/post
        scores, or a continuous change for a ResponseRegressor (the post
        column is then kept out of ``X``).
    treatment : str or None, default="treatment"
        Column of the treatment arm. When left at its default and absent, the
        cohort is single-arm.
    arms : sequence of str or None, default=None
        Declared arms; values outside them are an error. None takes the
        ``Levels`` of the treatment column in participants.json, if any, else
        the values present.
    check_images : bool, default=True
        Check that every image exists, is readable, 3D/4D, and that all images
        of a column share one grid. Headers only: a truncated file whose header
        is intact is found when its voxels are read (``txpredict validate
        --full`` reads them all).
    missing_images : {"refuse", "drop"}, default="refuse"
        A participant without an image: an error listing them, or "drop":
        leave them out, with a warning naming them
        (``cohort.info["dropped_missing_images"]``).
    min_per_class : int, default=2
        Fewest subjects allowed in each outcome class.
    outcome_type : {"binary", "continuous"}, default="binary"
        Of an outcome given as a column: a 0/1 responder flag, or a number
        per patient (a symptom change, for a ResponseRegressor).
    post_treatment : sequence of str, default=()
        Columns measured after treatment (``lsas_post``, ``hamd_week12``, a
        remission flag): never in ``X``. The post score of an outcome rule is
        one already.
    baseline : sequence of str, default=()
        Columns measured before treatment that a leakage screen would flag
        (a name with "response" in it, a strong clinical predictor):
        predictors after all.
    ignored : sequence of str, default=()
        Columns no model may read (notes, dates, ids of other studies).

    Returns
    -------
    Cohort

    Notes
    -----
    Columns whose role is not declared are screened
    (:mod:`txpredict.leakage`): one whose name says it was measured after
    treatment, or that predicts the outcome near-perfectly (alone, or as
    the difference or ratio with another column), is kept out of ``X`` with
    a warning until its role is declared, and
    :meth:`Cohort.baseline_columns` refuses to derive a baseline meanwhile.
    ``cohort.roles`` holds every column's role, ``cohort.checks`` what the
    screens found.

    Examples
    --------
    >>> import tempfile, txpredict as tp
    >>> folder = tempfile.mkdtemp() + "/study"
    >>> _ = tp.make_synthetic_cohort(12, grid="fsl6", random_state=0, out_dir=folder)
    >>> tp.load_cohort(folder).X.columns.tolist()[:3]
    ['age', 'sex', 'baseline_severity']
    """
    if outcome_type not in ("binary", "continuous"):
        raise CohortError(
            "outcome_type must be 'binary' or 'continuous'. Got "
            f"{outcome_type!r} instead."
        )
    if missing_images not in ("refuse", "drop"):
        raise CohortError(
            "missing_images must be 'refuse' or 'drop'. Got "
            f"{missing_images!r} instead."
        )
    root = Path(root)
    table = read_participants(root / "participants.tsv")
    sidecar = _read_sidecar(root / "participants.json")
    treatment = _treatment_column(table, treatment)
    _check_codings(table, sidecar, outcome, treatment)
    if arms is None and treatment is not None:
        levels = sidecar.get(treatment, {}).get("Levels")
        arms = tuple(levels) if levels else None
    declared = _declared_roles(
        table, outcome, treatment, post_treatment, baseline, ignored
    )
    excluded = tuple(c for c, role in declared.items() if role != "baseline")
    table, target = _derived_outcome(table, outcome, outcome_type, excluded)
    patterns = (
        {"image": image_pattern}
        if isinstance(image_pattern, str)
        else dict(image_pattern)
    )
    table, dropped = _image_paths(table, root, patterns, check_images, missing_images)
    cohort = _cohort_of(table, target, outcome, treatment, arms, root, sidecar,
                        min_per_class)  # fmt: skip
    if treatment is not None and arms is None:
        _warn_about_extra_arms(cohort.participants[treatment], treatment)
    if dropped:
        cohort.info["dropped_missing_images"] = dropped
    if check_images:
        cohort.info["grids"] = check_cohort_images(cohort.participants, list(patterns))
    _assign_roles(cohort, outcome, declared, list(patterns))
    truth = root / "ground_truth.tsv"
    if truth.is_file():
        cohort.ground_truth = _read_ground_truth(truth, cohort)
    description = root / "dataset_description.json"
    if description.is_file():
        meta = json.loads(description.read_text(encoding="utf-8"))
        cohort.info.update(meta.get("GeneratedBy", [{}])[0].get("Parameters", {}))
    return cohort


#: A warning raised in a step of load_cohort points at load_cohort's caller.
_CALLER = 3


def _treatment_column(table, treatment) -> str | None:
    """The arm column; None (single-arm) when the default one is absent."""
    if treatment == _DEFAULT_TREATMENT and treatment not in table.columns:
        arm_like = [c for c in table.columns if str(c).lower() in _ARM_LIKE_COLUMNS]
        if arm_like:
            warnings.warn(
                f"No 'treatment' column: the cohort is single-arm and {arm_like} "
                "is kept as an ordinary column. If it holds the treatment arm, "
                f"pass treatment={arm_like[0]!r}.",
                UserWarning,
                stacklevel=_CALLER,
            )
        return None
    return treatment


def _check_codings(table, sidecar, outcome, treatment) -> None:
    """Before anything reads the columns: typos must not change the analysis.

    The arm and a responder column have checks (and messages) of their own.
    """
    skip = [c for c in (treatment, outcome) if isinstance(c, str)]
    check_codings(table, sidecar, skip=skip)
    if isinstance(outcome, SymptomReduction | SymptomChange):
        check_scores(
            table, [c for c in (outcome.pre, outcome.post) if c in table], sidecar
        )
    _warn_about_spellings(table, skip=skip)


class _Target(NamedTuple):
    """The outcome column of a cohort, how it was made, what X must not hold."""

    column: str
    rule: str
    outcome_type: str
    excluded: tuple


def _derived_outcome(table, outcome, outcome_type, excluded):
    """(table, _Target): the outcome column, derived by a rule if one is given."""
    if not isinstance(outcome, SymptomReduction | SymptomChange):
        rule = (
            f"change from column {outcome!r}"
            if outcome_type == "continuous"
            else f"responder flag from column {outcome!r}"
        )
        return table, _Target(outcome, rule, outcome_type, excluded)
    column = "responder" if isinstance(outcome, SymptomReduction) else outcome.column
    table = table.set_index("participant_id", drop=False)
    table[column] = outcome(table)
    table = table.reset_index(drop=True)
    if column != outcome.post and outcome.post not in excluded:
        excluded = (*excluded, outcome.post)
    if isinstance(outcome, SymptomChange):
        outcome_type = "continuous"
    return table, _Target(column, outcome.describe(), outcome_type, excluded)


def _image_paths(table, root, patterns, check_images, missing_images):
    """(table indexed by participant, dropped ids): each image column's paths."""
    # Absolute paths: the cohort stays usable after a change of directory.
    for column, pattern in patterns.items():
        table[column] = [
            str(image_path(root, pattern, pid)) for pid in table["participant_id"]
        ]
    table = table.set_index("participant_id")
    dropped = []
    for column in patterns if check_images else ():
        missing = [
            (pid, path)
            for pid, path in table[column].items()
            if not Path(path).is_file()
        ]
        if missing and missing_images == "drop":
            dropped += [pid for pid, _ in missing]
        elif missing:
            shown = "; ".join(f"{pid}: {path}" for pid, path in missing[:5])
            raise CohortError(
                f"{len(missing)} participant(s) have no {column!r} image at the "
                f"expected path ({shown}). Check image_pattern={patterns[column]!r}"
                ", remove those participants from participants.tsv, or pass "
                "missing_images='drop'."
            )
    if dropped:
        dropped = list(dict.fromkeys(dropped))
        table = table.drop(index=dropped)
        warnings.warn(
            f"{len(dropped)} participant(s) without an image were left out: "
            f"{dropped[:20]}{' ...' if len(dropped) > 20 else ''}.",
            UserWarning,
            stacklevel=_CALLER,
        )
    return table, dropped


def _cohort_of(table, target, outcome, treatment, arms, root, sidecar, min_per_class):
    """The Cohort; a derived outcome's problems name the scores it came from."""
    try:
        return Cohort(
            table,
            target.column,
            treatment,
            arms,
            target.excluded,
            target.rule,
            root=root,
            min_per_class=min_per_class,
            info={"columns": sidecar} if sidecar else {},
            outcome_type=target.outcome_type,
        )
    except CohortError as exc:
        if isinstance(outcome, SymptomReduction | SymptomChange):
            # The derived column is not in participants.tsv: name the scores.
            raise CohortError(
                f"{exc} ({target.column!r} is derived from the columns "
                f"{outcome.pre!r} and {outcome.post!r} of participants.tsv: "
                f"{target.rule}; a missing score in either makes it missing.)"
            ) from None
        raise


def _warn_about_extra_arms(arm: pd.Series, column: str) -> None:
    """More than two arms, none declared: perhaps a misspelling."""
    counts = arm.value_counts()
    if len(counts) > 2:
        warnings.warn(
            f"The treatment column {column!r} has {len(counts)} arms "
            f"({counts.to_dict()}). If one is a misspelling, fix it; declare "
            "the arms (arms=... or 'Levels' in participants.json) to have "
            "any other value refused.",
            UserWarning,
            stacklevel=_CALLER,
        )


def ground_truth_problems(truth: pd.DataFrame, ids, arms) -> list[str]:
    """Why a synthetic ground truth does not describe these patients and arms.

    Returns
    -------
    list of str
        Empty when it has a row for every participant and a
        ``p_response_<arm>`` column for every arm.
    """
    problems = []
    absent = sorted(set(map(str, ids)) - set(map(str, truth.index)))
    if absent:
        problems.append(f"it has no row for {absent[:5]}")
    lacking = [f"p_response_{a}" for a in arms if f"p_response_{a}" not in truth]
    if lacking:
        problems.append(f"it lacks {lacking} for the arms {list(arms)}")
    return problems


def _read_ground_truth(path: Path, cohort: Cohort) -> pd.DataFrame | None:
    """A synthetic cohort's ``ground_truth.tsv``, if it still describes the cohort.

    txpredict's generator writes it; a table edited since (arms renamed,
    participants added) no longer matches, and is left out with a warning
    rather than failing an analysis at its end.
    """
    truth = pd.read_csv(path, sep="\t", dtype={"participant_id": str})
    if "participant_id" not in truth.columns:
        problems = ["it has no participant_id column"]
    else:
        truth = truth.set_index("participant_id")
        problems = ground_truth_problems(
            truth, cohort.participants.index, cohort.arms or ()
        )
    if problems:
        warnings.warn(
            f"{path} (the ground truth of a synthetic cohort) does not match "
            f"participants.tsv: {'; '.join(problems)}. It is ignored; delete or "
            "regenerate it.",
            UserWarning,
            stacklevel=3,
        )
        return None
    return truth.loc[cohort.participants.index]


_DECLARABLE = ("post_treatment", "baseline", "ignored")


def _declared_roles(table, outcome, treatment, post_treatment, baseline, ignored):
    """The roles the user declared, checked before anything else is done."""
    declared: dict[str, str] = {}
    for role, columns in zip(
        _DECLARABLE, (post_treatment, baseline, ignored), strict=True
    ):
        for column in [columns] if isinstance(columns, str) else columns:
            if column in declared:
                raise CohortError(
                    f"Column {column!r} is declared both {declared[column]} and "
                    f"{role}; give it one role."
                )
            declared[column] = role
    absent = [c for c in declared if c not in table.columns]
    if absent:
        raise CohortError(
            f"Declared column(s) {absent} are not in participants.tsv; its columns "
            f"are {list(table.columns)}."
        )
    # Roles that the outcome and the design fix: declaring another is an error.
    fixed = {"participant_id": ("the participant id", None)}
    if treatment is not None:
        fixed[treatment] = ("the treatment arm", None)
    if isinstance(outcome, SymptomReduction | SymptomChange):
        fixed[outcome.post] = ("the outcome rule's post score", "post_treatment")
        fixed[outcome.pre] = ("the outcome rule's pre score", "baseline")
    else:
        fixed[outcome] = ("the outcome", None)
    for column, role in declared.items():
        if column in fixed and fixed[column][1] != role:
            raise CohortError(
                f"Column {column!r} is {fixed[column][0]}; it cannot be declared "
                f"{role}. Remove it from {role}=[...]."
            )
    return declared


def _assign_roles(cohort: Cohort, outcome, declared: dict, image_columns) -> None:
    """Every column's role; the undeclared ones screened, suspects kept out of X."""
    rule = outcome if isinstance(outcome, SymptomReduction | SymptomChange) else None
    roles = {"participant_id": "id"}
    known_baseline = [c for c, r in declared.items() if r == "baseline"]
    candidates = []
    for column in cohort.participants.columns:
        if column in image_columns:
            roles[column] = "image"
        elif column == cohort.outcome:
            roles[column] = "outcome"
        elif column == cohort.treatment_column:
            roles[column] = "treatment"
        elif column in declared:
            roles[column] = declared[column]
        elif rule is not None and column == rule.post:
            roles[column] = "post_treatment"
        elif rule is not None and column == rule.pre:
            roles[column] = "baseline"
            known_baseline.append(column)
        else:
            candidates.append(column)
    suspects, checks = screen_table(
        cohort.participants,
        cohort.y.to_numpy(),
        candidates=candidates,
        declared=declared,
        known_baseline=known_baseline,
        continuous=cohort.outcome_type == "continuous",
    )
    for column in candidates:
        roles[column] = "suspected_post_treatment" if column in suspects else "baseline"
    cohort.roles, cohort.checks = roles, checks
    if suspects:
        cohort.excluded_columns = (*cohort.excluded_columns, *suspects)
        cohort.info["suspected_post_treatment"] = suspects
        listed = listed_suspects(suspects)
        names = list(suspects)
        warnings.warn(
            f"Column(s) of participants.tsv look measured after treatment ({listed})"
            ". They are kept out of cohort.X until you declare them: "
            f"post_treatment={names!r} if they were measured after treatment, "
            f"baseline={names!r} if before.",
            LeakageWarning,
            stacklevel=3,
        )
