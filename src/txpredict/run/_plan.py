"""Preregistered analysis plans: ``txpredict plan`` and ``txpredict run --plan``.

A plan fixes, before the outcomes are seen, everything that decides a run's
numbers: the configuration with every default made explicit (the learner's
parameters and tuning grid, the seeds, the comparisons and their tests, the
primary metric), the software versions, and a fingerprint of what the
analysis may see while blind: each participant's row of baseline columns and
image files, never the outcome or a column measured after treatment. The
plan's SHA-256 is what a study deposits (e.g. on OSF) before unblinding.

A run given the plan recomputes all three and refuses any difference unless
the user explains it (``--deviation "why"``); the report lists each
difference and the reasons given (a "preregistered plan" check, which the
TRIPOD+AI checklist cites).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from txpredict._io import write_text_atomic
from txpredict._participants import read_participants
from txpredict.cohort import DEFAULT_IMAGE_PATTERN, holds_image_paths, image_path
from txpredict.errors import TxpredictError
from txpredict.features import default_rois
from txpredict.leakage import Check, screen_names
from txpredict.modality import ModalitySelector
from txpredict.models import make_image_extractor
from txpredict.report import PLAN_CHECK
from txpredict.run._config import (
    DEFAULT_IMPORTANCE_PERMUTATIONS,
    cv_settings,
    learning_curve_settings,
    model_settings,
    outcome_rule,
)
from txpredict.run._modality import selector_options
from txpredict.run._response import planned_comparisons
from txpredict.run._steps import learner_of

#: The format of plan.json (a later txpredict reads the plans of earlier ones).
PLAN_FORMAT = 1
#: The packages whose versions decide a run's numbers.
PACKAGES = (
    "txpredict",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "nilearn",
    "nibabel",
    "joblib",
)
#: [data] settings with their defaults (the dataset path is not part of the
#: plan: the same data moved to another folder or machine is the same data).
DATA_DEFAULTS = {
    "image_pattern": DEFAULT_IMAGE_PATTERN,
    "outcome": "responder",
    "treatment": "treatment",
    "arms": None,
    "missing_images": "refuse",
    "post_treatment": [],
    "baseline": [],
    "ignored": [],
}
#: The metric each task's headline answer is read from.
PRIMARY_METRIC = {
    "response": "auc",
    "regression": "r",
    "modality": "policy_gain",
}
#: What the outcome column was when the plan was made (it is never read).
BLINDING = {
    "absent": "before the outcome column existed",
    "empty": "while the outcome column was empty",
    "present": "with the outcome column filled in (not read)",
}
#: Participants or files listed by name in a message before "..."
_SHOWN = 5


def make_plan(config: dict) -> dict:
    """The plan of a configuration (from :func:`read_config`), without outcomes.

    Reads participants.tsv and every image file, never an outcome: the
    outcome column (or the outcome rule's post score), the columns declared
    ``post_treatment`` or ``ignored`` and those whose name says they were
    measured after treatment are left out of the fingerprint, and may be
    absent or empty.

    Parameters
    ----------
    config : dict
        The run's configuration (:func:`read_config`).

    Returns
    -------
    dict
        ``format``, ``created``, ``configuration``, ``software``, ``data``
        and ``sha256`` (:func:`plan_digest` of the rest).

    Examples
    --------
    >>> import tempfile, txpredict as tp
    >>> from txpredict.run import check_plan, make_plan
    >>> study = tempfile.mkdtemp() + "/study"
    >>> _ = tp.make_synthetic_cohort(12, grid="fsl6", random_state=0, out_dir=study)
    >>> config = {"data": {"dataset": study}, "output": {}}
    >>> plan = make_plan(config)
    >>> plan["data"]["blinded"], plan["configuration"]["primary_metric"]
    ({'responder': 'the outcome'}, 'auc')
    >>> check_plan(plan, config).status
    'ok'
    """
    plan = {
        "format": PLAN_FORMAT,
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        **_planned_state(config),
    }
    plan["sha256"] = plan_digest(plan)
    return plan


def plan_digest(plan: dict) -> str:
    """SHA-256 of a plan's content (every key but ``sha256``), as canonical JSON."""
    content = {key: value for key, value in plan.items() if key != "sha256"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_plan(plan: dict, path, *, overwrite=False) -> tuple[Path, Path]:
    """Write ``plan.json`` and its readable ``plan.md`` beside it (atomically).

    An existing file is replaced only with ``overwrite``: a deposited plan
    must not be lost to a second ``txpredict plan``.

    Parameters
    ----------
    plan : dict
        The plan (:func:`make_plan`).
    path : str or pathlib.Path
        Where ``plan.json`` goes (``plan.md`` beside it).
    overwrite : bool, default=False
        Replace an existing plan.
    """
    path = Path(path)
    readable = path.with_suffix(".md")
    for target in (path, readable):
        if target.exists() and not overwrite:
            raise TxpredictError(
                f"{str(target)!r} already exists; a plan that may have been "
                "deposited is not replaced. Choose another --out, or pass "
                "--overwrite."
            )
    write_text_atomic(path, json.dumps(plan, indent=2, sort_keys=True) + "\n")
    write_text_atomic(readable, plan_markdown(plan))
    return path, readable


def read_plan(path) -> dict:
    """Read a plan.json and check that it is the plan ``txpredict plan`` wrote.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``plan.json`` file.

    Raises
    ------
    TxpredictError
        No such file, not a plan, or a content that does not match its
        SHA-256 (edited after it was made).
    """
    path = Path(path)
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TxpredictError(f"No plan at {str(path)!r}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TxpredictError(
            f"{path} is not a plan written by 'txpredict plan' (not JSON: {exc})."
        ) from None
    if not isinstance(plan, dict) or not {"sha256", "configuration"} <= set(plan):
        raise TxpredictError(
            f"{path} is not a plan written by 'txpredict plan' (it has no sha256 "
            "or configuration)."
        )
    if plan.get("format") != PLAN_FORMAT:
        raise TxpredictError(
            f"{path} is a plan of format {plan.get('format')!r}; this txpredict "
            f"reads format {PLAN_FORMAT}. Run with the txpredict version the plan "
            f"names ({plan.get('software', {}).get('txpredict', 'unknown')})."
        )
    if plan_digest(plan) != plan["sha256"]:
        raise TxpredictError(
            f"{path} was changed after it was made: its content no longer matches "
            f"its SHA-256 ({plan['sha256'][:12]}...). Use the plan as deposited "
            "(compare its sha256 with the one you registered); to change the "
            "analysis, run with that plan and state each change with --deviation."
        )
    return plan


def check_plan(plan: dict, config: dict, deviations=()) -> Check:
    """Compare a run with its plan; refuse a difference no deviation explains.

    Parameters
    ----------
    plan : dict
        From :func:`read_plan`.
    config : dict
        The run's configuration (:func:`read_config`).
    deviations : sequence of str
        Why the run differs from the plan (``--deviation``), in the user's
        words; reported with the differences found.

    Returns
    -------
    Check
        "ok" when the run is the plan, "declared" when it differs and the
        user said why; ``items`` lists each difference, then each reason
        ("reason given: ...").

    Raises
    ------
    TxpredictError
        The plan fingerprints another dataset (fewer than half of its
        participants are here), or the run differs and no deviation is
        given: the message lists the differences and what to do.
    """
    current = _planned_state(config, columns=plan["data"]["columns"])
    recognised = _recognised(plan["data"], current["data"])
    if recognised < len(plan["data"]["rows"]) / 2:
        raise TxpredictError(
            f"The plan ({plan['sha256'][:12]}...) fingerprints another dataset: "
            f"{recognised} of its {len(plan['data']['rows'])} participants are in "
            f"{config['data']['dataset']!r} with the same baseline values or "
            "images. Point [data] dataset at the data the plan was made for, or "
            "make a plan for this one (txpredict plan)."
        )
    differences = plan_differences(plan, current)
    reasons = [str(d).strip() for d in deviations if str(d).strip()]
    made = f"SHA-256 {plan['sha256']}, made {plan['created']}"
    if differences and not reasons:
        listed = "\n".join(f"  - {d}" for d in differences)
        planned_software = [
            f"{package}=={was}"
            for package, was, _ in _software_differences(plan, current)
            if package != "python"
        ]
        install = (
            f" For the planned software: pip install {' '.join(planned_software)}."
            if planned_software
            else ""
        )
        raise TxpredictError(
            f"This run differs from its preregistered plan ({made}):\n{listed}\n"
            "Run as planned (restore the configuration, data or software), or "
            'state why it differs with --deviation "why": the report lists each '
            f"difference and your reason.{install}"
        )
    made += f", {BLINDING[plan['data']['outcome_when_planned']]}"
    if not differences:
        finding = f"the run is the plan ({made})"
        if reasons:
            finding += "; deviation(s) stated although none was found: "
            finding += "; ".join(reasons)
        return Check(PLAN_CHECK, "ok", finding)
    return Check(
        PLAN_CHECK,
        "declared",
        f"{len(differences)} difference(s) from the plan ({made}), run with the "
        "reason(s) given",
        [*differences, *(f"reason given: {reason}" for reason in reasons)],
    )


def plan_differences(planned: dict, current: dict) -> list[str]:
    """Each way ``current`` (a run's state) differs from ``planned``, in words."""
    found = [
        f"{package} {was} in the plan, {now} now"
        for package, was, now in _software_differences(planned, current)
    ]
    settings = list(_changed(planned["configuration"], current["configuration"]))
    if any(".param_grid" in where for where, _, _ in settings):
        # The tuning grid is the param_grid given (or the default): one change.
        settings = [s for s in settings if ".tuning_grid" not in s[0]]
    found += [
        f"{where}: {_shown_value(was)} in the plan, {_shown_value(now)} now"
        for where, was, now in settings
    ]
    return found + _data_differences(planned["data"], current["data"])


def _software_differences(planned, current) -> list[tuple[str, str, str]]:
    """(package, planned version, current version) of each that differs.

    Python is compared at major.minor: a patch release does not change results.
    """
    found = []
    for package, was in planned["software"].items():
        now = current["software"].get(package)
        if package == "python":
            was, now = _minor(was), _minor(now)
        if was != now:
            found.append((package, was, now))
    return found


def describe_plan(plan: dict) -> str:
    """What a plan fixed, in one sentence, with its SHA-256.

    Parameters
    ----------
    plan : dict
        A plan (:func:`make_plan`, :func:`read_plan`).
    """
    data = plan["data"]
    return (
        f"a {plan['configuration']['task']} analysis of {len(data['rows'])} "
        f"participants ({len(data['columns'])} baseline column(s), "
        f"{sum(v is not None for f in data['images'].values() for v in f.values())} "
        "image file(s)), "
        f"made {plan['created']}, {BLINDING[data['outcome_when_planned']]}; "
        f"SHA-256 {plan['sha256']}"
    )


def plan_markdown(plan: dict) -> str:
    """The plan as a page to read (``plan.md``) beside the one to deposit."""
    data = plan["data"]
    configuration = plan["configuration"]
    lines = [
        "# Preregistered analysis plan (txpredict)",
        "",
        f"- SHA-256: `{plan['sha256']}`",
        f"- made {plan['created']}, {BLINDING[data['outcome_when_planned']]}",
        f"- task: {configuration['task']}; primary metric: "
        f"{configuration['primary_metric']}",
        "",
        "Deposit plan.json (or this SHA-256) before the outcomes are seen. "
        "`txpredict run CONFIG --plan plan.json` checks the run against it and "
        'refuses any difference unless you state why (`--deviation "why"`); the '
        "report lists each difference and your reason.",
        "",
        "## Comparisons",
        "",
        *(f"- {name}: {test}" for name, test in configuration["comparisons"].items()),
        "",
        "## Data the analysis may see while blind",
        "",
        f"- {len(data['rows'])} participants; their rows of {len(data['columns'])} "
        f"baseline column(s): {', '.join(data['columns']) or 'none'}",
        "- left out (outcome and after treatment): "
        + (", ".join(f"{c} ({why})" for c, why in data["blinded"].items()) or "none"),
        *(
            f"- images '{column}': {sum(v is not None for v in digests.values())} "
            f"file(s), {sum(v is None for v in digests.values())} missing"
            for column, digests in data["images"].items()
        ),
        f"- participants digest: `{data['rows_sha256']}`",
        f"- images digest: `{data['images_sha256']}`",
        "",
        "## Software",
        "",
        *(f"- {name} {v}" for name, v in plan["software"].items()),
        "",
        "## Configuration, every default explicit",
        "",
        "```json",
        json.dumps(configuration, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def _planned_state(config, columns=None) -> dict:
    """The configuration, software and data parts of a plan (no date, no digest).

    ``columns``: the baseline columns to fingerprint (a run checked against
    its plan uses the plan's); None takes every column but the blinded ones.
    """
    task = config.get("task", "response")
    data = {**DATA_DEFAULTS, **config["data"]}
    root = Path(data.pop("dataset"))
    table = read_participants(root / "participants.tsv").set_index("participant_id")
    table.index = table.index.astype(str)
    blinded = blinded_columns(table.columns, data, task)
    baseline = [c for c in table.columns if c not in blinded and c != data["treatment"]]
    if columns is None:
        treatment = [data["treatment"]] if data["treatment"] in table else []
        columns = sorted([*baseline, *treatment])
    return {
        "configuration": _resolved_configuration(config, data, task, table, baseline),
        "software": software_versions(),
        "data": _data_fingerprint(root, table, data, blinded, columns),
    }


def blinded_columns(columns, data: dict, task: str) -> dict[str, str]:
    """The columns a plan never reads, each with why (they may be absent yet).

    The outcome (or the outcome rule's post score) first, then the columns
    declared ``post_treatment`` or ``ignored``, then those whose name says
    they were measured after treatment (unless declared ``baseline``).
    """
    rule = outcome_rule(data["outcome"], task)
    if isinstance(rule, str):
        blinded = {rule: "the outcome"}
        declared_baseline = set(data["baseline"])
    else:
        blinded = {rule.post: "the outcome rule's post-treatment score"}
        declared_baseline = {*data["baseline"], rule.pre}
    for role in ("post_treatment", "ignored"):
        for column in data[role]:
            blinded.setdefault(column, f"declared {role}")
    for column, why in screen_names(columns).items():
        if column not in declared_baseline:
            blinded.setdefault(column, f"its name suggests after treatment: {why}")
    return blinded


def software_versions() -> dict[str, str]:
    """Python's and each of :data:`PACKAGES`' version."""
    return {"python": platform.python_version()} | {
        package: version(package) for package in PACKAGES
    }


def _resolved_configuration(config, data, task, table, baseline) -> dict:
    """The configuration with every default explicit, and what the run will do."""
    model = model_settings(config)
    if "demographic_columns" not in model:
        # What the run would derive (cohort.baseline_columns()), fixed now.
        model["demographic_columns"] = [
            c for c in baseline if not holds_image_paths(table[c])
        ]
    cv = cv_settings(config)
    learner = _learner(config, task, model, cv, data)
    configuration = {
        "task": task,
        "data": data,
        # The [model] settings the learner does not take (regression: threshold).
        "model": {k: v for k, v in model.items() if k not in learner["parameters"]},
        "cv": cv,
        "learner": learner,
        "primary_metric": PRIMARY_METRIC[task],
        "comparisons": _comparisons(task, model["features"], cv),
    }
    extractor = _extractor(model)
    if extractor is not None:
        configuration["extractor"] = extractor
    if learning_curve_settings(config) is not None:
        configuration["learning_curve"] = learning_curve_settings(config)
    if config.get("importance"):
        importance = config["importance"]
        configuration["importance"] = {
            "n_permutations": importance.get(
                "n_permutations", DEFAULT_IMPORTANCE_PERMUTATIONS
            ),
            "features": importance.get("features", {}),
        }
    return _jsonable(configuration)


def _comparisons(task, features, cv) -> dict[str, str]:
    """Each comparison the run makes, and its test."""
    if task == "response":
        return planned_comparisons(features, cv)
    paired = "paired difference on the same splits"
    if task == "modality":
        return {"scan vs demographics-only selection": paired}
    return {"model vs demographics only": paired}


def _extractor(model) -> dict | None:
    """The image extractor's settings, its ROIs and mask made explicit (or None).

    The default ROIs are written out (a later txpredict could move them), a
    mask file is fingerprinted like the images.
    """
    extractor = make_image_extractor(
        model["features"],
        image_column="image",
        n_jobs=None,
        memory=None,
        options=model.get("feature_options"),
    )
    if extractor is None:
        return None
    parameters = {
        key: value
        for key, value in extractor.get_params(deep=False).items()
        if key not in ("memory", "n_jobs", "verbose")
    }
    if parameters.get("rois") == "default":
        parameters["rois"] = list(default_rois())
    mask = parameters.get("mask")
    if isinstance(mask, str) and mask != "mni":
        parameters["mask_sha256"] = _file_digest(Path(mask))
    return {"class": type(extractor).__name__, "parameters": parameters}


def _learner(config, task, model, cv, data) -> dict:
    """The estimator the run builds: its class, every parameter, its tuning grid."""
    if task == "modality":
        estimator = ModalitySelector(
            **selector_options(config, model, cv, data["arms"])
        )
        grid = estimator.base_model().tuning_grid()
    else:
        estimator = learner_of(task, model, cv)
        grid = estimator.tuning_grid()
    # Where the run caches and how many cores it uses do not change its numbers.
    parameters = {
        key: value
        for key, value in estimator.get_params(deep=False).items()
        if key not in ("memory", "n_jobs", "verbose")
    }
    return {
        "class": type(estimator).__name__,
        "parameters": parameters,
        "tuning_grid": grid,
    }


def _data_fingerprint(root, table, data, blinded, columns) -> dict:
    """Per-participant digests of the baseline row and of each image file."""
    present = [c for c in columns if c in table.columns]
    rows = {
        pid: _digest({c: _cell(table.at[pid, c]) for c in present})
        for pid in table.index
    }
    patterns = data["image_pattern"]
    patterns = {"image": patterns} if isinstance(patterns, str) else dict(patterns)
    images = {
        column: {pid: _file_digest(image_path(root, pattern, pid)) for pid in rows}
        for column, pattern in patterns.items()
    }
    outcome = next(iter(blinded))  # the outcome (or its post score) comes first
    if outcome not in table:
        outcome_state = "absent"
    else:
        outcome_state = "present" if table[outcome].notna().any() else "empty"
    return {
        "dataset": root.name,
        "columns": list(columns),
        # Against the plan's columns: those gone, and those it never saw.
        "absent_columns": [c for c in columns if c not in table.columns],
        "new_columns": sorted(
            set(table.columns) - set(columns) - set(blinded) - {data["treatment"]}
        ),
        "blinded": blinded,
        "outcome_when_planned": outcome_state,
        "rows": rows,
        "rows_sha256": _digest(rows),
        "images": images,
        "images_sha256": _digest(images),
        "participants_json": _file_digest(root / "participants.json"),
    }


def _data_differences(planned, current) -> list[str]:
    """The data's differences from the plan: participants, columns, rows, files."""
    found = []
    was, now = set(planned["rows"]), set(current["rows"])
    for label, ids in (
        ("not in the plan", sorted(now - was)),
        ("in the plan but not here", sorted(was - now)),
    ):
        if ids:
            found.append(f"{len(ids)} participant(s) {label}: {_listed(ids)}")
    if current["absent_columns"]:
        found.append(
            f"participants.tsv no longer has the planned column(s) "
            f"{current['absent_columns']}"
        )
    if current["new_columns"]:
        found.append(
            "participants.tsv has column(s) the plan did not fingerprint: "
            f"{current['new_columns']} (declare them post_treatment or ignored in "
            "[data] if they were measured after treatment)"
        )
    changed = sorted(
        pid for pid in was & now if planned["rows"][pid] != current["rows"][pid]
    )
    if changed and not current["absent_columns"]:  # else every row differs
        found.append(
            f"{len(changed)} participant(s)' baseline values differ from the plan "
            f"(columns {planned['columns']}): {_listed(changed)}"
        )
    for column, digests in planned["images"].items():
        here = current["images"].get(column, {})
        differ = sorted(
            pid for pid in set(digests) & set(here) if digests[pid] != here[pid]
        )
        if differ:
            found.append(
                f"{len(differ)} '{column}' image file(s) differ from the plan "
                f"(changed, added or removed): {_listed(differ)}"
            )
    if planned["participants_json"] != current["participants_json"]:
        found.append("participants.json differs from the plan")
    return found


def _recognised(planned, current) -> int:
    """Participants of the plan found here with their baseline row or images."""
    images = [
        (planned["images"][c], current["images"].get(c, {})) for c in planned["images"]
    ]
    return sum(
        planned["rows"][pid] == current["rows"].get(pid)
        or all(now.get(pid) is not None and was[pid] == now[pid] for was, now in images)
        for pid in planned["rows"]
    )


def _changed(was, now, where="configuration"):
    """(place, planned value, current value) of each setting that differs."""
    if isinstance(was, dict) and isinstance(now, dict):
        for key in sorted(set(was) | set(now)):
            yield from _changed(was.get(key), now.get(key), f"{where}.{key}")
    elif was != now:
        yield where, was, now


def _cell(value):
    """A cell as text (missing: None), the same however the column is typed."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str | None:
    """SHA-256 of a file's bytes, or None if there is no such file."""
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _jsonable(value):
    """Settings as JSON values: spheres as dicts, tuples as lists, numpy as Python."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | pd.Index | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _minor(python_version):
    return ".".join(str(python_version).split(".")[:2])


def _shown_value(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _listed(ids) -> str:
    return ", ".join(ids[:_SHOWN]) + (" ..." if len(ids) > _SHOWN else "")
