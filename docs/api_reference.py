"""Write ``api.rst``: every public name, grouped, from the packages' ``__all__``.

Run by ``conf.py`` at each build, so that a name added to an ``__all__`` is in
the reference without anyone editing a list; a name no group claims lands in
"Other" rather than being lost. A name exported twice (``tp.compare`` is
``txpredict.evaluation.compare``) is documented once, where users call it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

#: Groups of the top-level names, in the order a study uses them.
TOP_LEVEL = {
    "Cohorts": ["load_cohort", "Cohort", "SymptomReduction", "SymptomChange", "Grid"],
    "Synthetic data": ["make_synthetic_cohort"],
    "Features": [
        "RoiFeatures",
        "WholeBrainFeatures",
        "ImageFeatures",
        "PrecomputedFeatures",
        "DemographicFeatures",
        "Sphere",
        "AtlasRegion",
        "default_rois",
        "rois_from_atlas",
        "ComBat",
        "ConfoundRemover",
    ],
    "Models": ["ResponseClassifier", "ResponseRegressor"],
    "Nested cross-validation": [
        "nested_cross_validate",
        "NestedCVResult",
        "RegressionCVResult",
        "ModelMaps",
        "bootstrap_maps",
        "GridEdgeWarning",
        "LeaveOneOutWarning",
    ],
    "Does the scan add anything?": [
        "compare",
        "Comparison",
        "added_value",
        "AddedValue",
        "scan_permutation_test",
        "permutation_test",
        "PermutationTestResult",
    ],
    "What the model uses": ["permutation_importance", "drop_one_importance"],
    "Validation, sample size": [
        "validate_external",
        "ExternalValidation",
        "minimum_sample_size",
        "learning_curve",
        "LearningCurve",
        "sensitivity_score",
        "specificity_score",
    ],
    "Treatment selection": [
        "ModalitySelector",
        "evaluate_selection",
        "SelectionResult",
        "compare_selections",
    ],
    "Cross-validation schemes": ["compare_cv_schemes", "CVSchemesResult"],
    "Saving models": ["save_model", "load_model"],
}

#: Submodules documented with their own public names (what the top level
#: does not already show).
SUBMODULES = {
    "txpredict.stats": "Statistics: metrics, intervals, tests, probabilities",
    "txpredict.run": "Runs from a configuration (``txpredict run``), plans",
    "txpredict.report": "Reports and the TRIPOD+AI checklist",
    "txpredict.datasets": "Synthetic populations",
}


#: The leakage module's user-facing names (the rest serve the cohort loader).
LEAKAGE = [
    "screen_table",
    "checks_frame",
    "Check",
    "LeakageWarning",
    "site_confounding",
]


def _names(module) -> list[str]:
    return [n for n in module.__all__ if not n.startswith("_")]


def _block(module_name, names) -> list[str]:
    functions_and_classes = [f"   {name}" for name in names]
    return [
        f".. currentmodule:: {module_name}",
        "",
        ".. autosummary::",
        "   :toctree: generated/",
        "",
        *functions_and_classes,
        "",
    ]


def _title(text, underline) -> list[str]:
    return [text, underline * len(text), ""]


def sections() -> list[tuple[str, str, list[str]]]:
    """(title, module, names) of each section of the page, in order."""
    import txpredict

    top = [n for n in _names(txpredict) if n not in ("__version__", "leakage")]
    grouped = [n for names in TOP_LEVEL.values() for n in names]
    missing = set(grouped) - set(top)
    if missing:
        raise RuntimeError(f"api_reference.TOP_LEVEL names unknown names: {missing}")
    other = sorted(set(top) - set(grouped))
    out, documented = [], set()
    for group, names in {**TOP_LEVEL, **({"Other": other} if other else {})}.items():
        out.append((group, "txpredict", names))
        documented |= {id(getattr(txpredict, n)) for n in names}
    for module_name, title in SUBMODULES.items():
        module = importlib.import_module(module_name)
        names = [
            n
            for n in _names(module)
            if callable(getattr(module, n)) and id(getattr(module, n)) not in documented
        ]
        out.append((f"``{module_name}``: {title}", module_name, names))
        documented |= {id(getattr(module, n)) for n in names}
    out.append(
        ("``txpredict.leakage``: the leakage screens", "txpredict.leakage", LEAKAGE)
    )
    return out


def public_objects() -> list[str]:
    """Import paths of every documented function, class and public method."""
    import inspect

    paths = []
    for _, module_name, names in sections():
        module = importlib.import_module(module_name)
        for name in names:
            paths.append(f"{module_name}.{name}")
            obj = getattr(module, name)
            if inspect.isclass(obj):
                paths += [
                    f"{module_name}.{name}.{member}"
                    for member, value in vars(obj).items()
                    if not member.startswith("_")
                    and (inspect.isfunction(value) or isinstance(value, property))
                ]
    return paths


def render() -> str:
    """The page's reStructuredText."""
    lines = [
        ".. Generated by docs/api_reference.py at each build: do not edit.",
        "",
        *_title("API reference", "="),
        "Every public name of txpredict, generated from its docstrings.",
        "",
    ]
    for title, module_name, names in sections():
        lines += _title(title, "-")
        if module_name == "txpredict.leakage":
            lines += [".. automodule:: txpredict.leakage", "   :no-members:", ""]
        lines += _block(module_name, names)
    lines += _title("``txpredict.errors``", "-")
    lines += [
        ".. automodule:: txpredict.errors",
        "   :members:",
        "   :show-inheritance:",
        "",
    ]
    return "\n".join(lines)


def write_if_changed(path, text) -> None:
    """Write ``text`` at ``path`` unless it is there already (Sphinx rebuilds less)."""
    path = Path(path)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write(path) -> None:
    """Write the page at ``path``."""
    write_if_changed(path, render())


if __name__ == "__main__":
    write(Path(__file__).with_name("api.rst"))
