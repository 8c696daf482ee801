"""Reading participants.tsv, and the checks that keep a typo from changing the analysis.

A participants table is typed by hand, in a spreadsheet, by several people.
What pandas does with its slips is silent: a second ``Age`` header becomes
``Age.1`` and enters the model as another covariate; one ``forty`` among
numbers, or decimal commas (``37,5``), turn ``Age`` into a 60-level category;
``F``, ``female`` and ``W`` become three sexes. Each is refused here, naming
the column, the participants and the values, and saying how to fix it.

A column described with ``Levels`` in participants.json (BIDS) is
categorical: its values must be among the levels, and it is never taken for
a numeric column with typos.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from txpredict.errors import CohortError

#: Share of a column's values that must be numbers for its text cells to be
#: taken for typos rather than categories.
MOSTLY_NUMERIC = 0.8
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_FEMALE = {"f", "female", "w", "woman", "women", "fem", "frau", "weiblich"}
_MALE = {"m", "male", "man", "men", "mann", "männlich", "maennlich"}
#: Symptom scales by a pattern of their column name: (name, lowest, highest).
#: The usual version of each; another version's range is declared with
#: ``"Range": [low, high]`` for the column in participants.json.
SCALES = (
    (r"hamd|hrsd|ham_d|ham-d", "HAMD-17", 0, 52),
    (r"madrs", "MADRS", 0, 60),
    (r"lsas", "LSAS", 0, 144),
    (r"bdi", "BDI-II", 0, 63),
    (r"phq", "PHQ-9", 0, 27),
    (r"gad_?-?7", "GAD-7", 0, 21),
    (r"pdss", "PDSS", 0, 28),
    (r"y-?bocs", "Y-BOCS", 0, 40),
    (r"hama|ham_a|ham-a", "HAM-A", 0, 56),
    (r"qids", "QIDS-SR16", 0, 27),
    (r"pcl", "PCL-5", 0, 80),
    (r"cgi", "CGI", 1, 7),
)


def _shown(pairs, limit=5) -> str:
    return ", ".join(f"{pid}: {value!r}" for pid, value in list(pairs)[:limit])


def read_participants(tsv: Path) -> pd.DataFrame:
    """participants.tsv as a table (``n/a`` missing), with its header checked.

    Raises
    ------
    CohortError
        No file, no ``participant_id`` column (a CSV saved instead of a TSV
        is pointed out), or a column name used twice.
    """
    if not tsv.is_file():
        raise CohortError(
            f"No participants.tsv in {str(tsv.parent)!r}. A cohort folder needs a "
            "tab-separated participants.tsv with a participant_id column."
        )
    with tsv.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle, delimiter="\t"), [])
    names = [name.strip() for name in header]
    repeated = sorted({n for n in names if names.count(n) > 1 and n})
    if repeated:
        raise CohortError(
            f"{tsv} names the column(s) {repeated} more than once. pandas would "
            f"read the second as {repeated[0] + '.1'!r}, a column of its own that "
            "the model would use; keep one of each (rename or delete the others)."
        )
    table = pd.read_csv(
        tsv,
        sep="\t",
        dtype={"participant_id": str},
        na_values=["n/a"],
        keep_default_na=True,
        encoding="utf-8-sig",  # tolerate the byte-order mark Excel writes
    )
    table.columns = [str(c).strip() for c in table.columns]
    if "participant_id" not in table.columns:
        first = tsv.read_text(encoding="utf-8", errors="replace").partition("\n")[0]
        hint = (
            " Its first line looks comma-separated: participants.tsv must be "
            "tab-separated (save it as TSV, not CSV)."
            if "," in first and "participant_id" in first
            else f" Its columns are {list(table.columns)[:10]}."
        )
        raise CohortError(f"{tsv} has no 'participant_id' column.{hint}")
    return table


def _levels(sidecar, column):
    levels = sidecar.get(column, {}).get("Levels") if sidecar else None
    return None if not levels else [str(level) for level in levels]


def _as_text(values: pd.Series) -> pd.Series:
    """Values as the text a participants.json level would name (1.0 -> '1')."""
    if pd.api.types.is_float_dtype(values) and (values == values.round()).all():
        return values.astype("Int64").astype(str)
    return values.astype(str).str.strip()


def check_codings(table: pd.DataFrame, sidecar: dict, *, skip=()) -> None:
    """Refuse the slips of a hand-typed table that would change the analysis.

    Parameters
    ----------
    table : DataFrame
        As read by :func:`read_participants` (a ``participant_id`` column).
    sidecar : dict
        participants.json (column -> description, ``Levels``).
    skip : sequence of str
        Columns checked elsewhere (the treatment arm: its levels are the arms).
    """
    ids = table["participant_id"].astype(str)
    for column in table.columns:
        if column == "participant_id" or column in skip:
            continue
        present = table[column].notna()
        values = table[column][present]
        if values.empty:
            continue
        levels = _levels(sidecar, column)
        if levels is not None:
            text = _as_text(values)
            outside = ~text.isin(levels)
            if outside.any():
                raise CohortError(
                    f"Column {column!r} of participants.tsv has values that are not "
                    f"among its Levels {levels} in participants.json: "
                    f"{_shown(zip(ids[present][outside], text[outside], strict=True))}."
                    " Use the declared codes (one code per category), or add the "
                    "level to participants.json if it is a category of its own."
                )
            continue
        if pd.api.types.is_numeric_dtype(values):
            continue
        _check_numbers_with_text(column, values.astype(str), ids[present])
        _check_sex_spellings(column, values.astype(str))


def _check_numbers_with_text(column, text, ids) -> None:
    """A mostly numeric column with a few text cells holds typos, not categories."""
    numbers = pd.to_numeric(text, errors="coerce")
    comma = text.str.match(_DECIMAL_COMMA)
    share = (numbers.notna() | comma).mean()
    if share < MOSTLY_NUMERIC:
        return
    if comma.any():
        raise CohortError(
            f"Column {column!r} of participants.tsv writes numbers with decimal "
            f"commas ({_shown(zip(ids[comma], text[comma], strict=True))}): read "
            "as text, they would make it a category. Write decimal points "
            "(37.5), e.g. by exporting the table with a point as the decimal "
            "separator."
        )
    bad = numbers.isna()
    raise CohortError(
        f"Column {column!r} of participants.tsv holds numbers except for "
        f"{int(bad.sum())} cell(s) ({_shown(zip(ids[bad], text[bad], strict=True))})"
        ": with them the whole column would be read as text, a category with a "
        "level per value. Correct them, or write n/a where the value is missing. "
        'If the column is a category, declare its "Levels" in participants.json.'
    )


def _check_sex_spellings(column, text) -> None:
    """One sex written several ways ('F', 'female', 'W') would be several sexes."""
    keys = text.str.strip().str.casefold()
    if not keys.isin(_FEMALE | _MALE).mean() >= 0.9:
        return
    for words in (_FEMALE, _MALE):
        spellings = sorted(set(text[keys.isin(words)].str.strip()))
        if len(spellings) > 1:
            raise CohortError(
                f"Column {column!r} of participants.tsv writes one sex in "
                f"{len(spellings)} ways ({spellings}), which would count as "
                f"{len(spellings)} categories. Use one code for each sex, and "
                'declare the codes as "Levels" in participants.json, e.g. '
                f'{{"{column}": {{"Levels": {{"F": "female", "M": "male"}}}}}}.'
            )


def score_range(column: str, sidecar: dict) -> tuple[str, float, float] | None:
    """The range of a symptom-score column: declared, or its scale's by name.

    Examples
    --------
    >>> score_range("HAMD_week12", {})
    ('HAMD-17', 0, 52)
    >>> score_range("HAMD_week12", {"HAMD_week12": {"Range": [0, 64]}})
    ('declared in participants.json', 0.0, 64.0)
    >>> score_range("total", {}) is None
    True
    """
    declared = (sidecar or {}).get(column, {}).get("Range")
    if declared is not None:
        try:
            low, high = (float(v) for v in declared)
        except (TypeError, ValueError):
            raise CohortError(
                f'participants.json: "Range" of {column!r} must be [lowest, '
                f"highest]; got {declared!r}."
            ) from None
        return "declared in participants.json", low, high
    name = column.casefold()
    for pattern, scale, low, high in SCALES:
        if re.search(pattern, name):
            return scale, low, high
    return None


def check_scores(table: pd.DataFrame, columns, sidecar: dict) -> None:
    """Symptom scores must be numbers within their scale: no -3, no HAMD-17 of 60.

    Negative scores are always refused (no symptom scale goes below 0 but
    the CGI, which starts at 1); the upper end is checked for the scales
    :data:`SCALES` recognises by the column's name, or the range declared
    in participants.json.
    """
    ids = table["participant_id"].astype(str).to_numpy()
    for column in columns:
        scores = pd.to_numeric(table[column], errors="coerce")
        text = table[column][scores.isna() & table[column].notna()]
        if len(text):
            raise CohortError(
                f"Score column {column!r} holds text where numbers belong: "
                f"{_shown(zip(ids[text.index], text, strict=True))}. Correct them, "
                "or write n/a where the score is missing."
            )
        known = score_range(column, sidecar)
        scale, low, high = known if known else ("a symptom scale", 0, np.inf)
        outside = (scores < low) | (scores > high)
        if outside.any():
            bounds = f"{low:g} to {high:g}" if np.isfinite(high) else f">= {low:g}"
            raise CohortError(
                f"Score column {column!r} has values outside {scale}'s range "
                f"({bounds}): "
                f"{_shown(zip(ids[outside], scores[outside], strict=True))}. Correct "
                "them (a typo, or a code for missing: write n/a). For another "
                f"version of the scale declare its range in participants.json: "
                f'{{"{column}": {{"Range": [0, 64]}}}}.'
            )
