"""The ``txpredict`` command line: a thin shell over the library."""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from txpredict.datasets import GRIDS
from txpredict.errors import TxpredictError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``txpredict``."""
    parser = argparse.ArgumentParser(
        prog="txpredict",
        description="Predict CBT response from pre-treatment brain scans, honestly.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="generate a synthetic cohort and evaluate ROI vs demographics"
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the synthetic cohort (default: a temporary one)",
    )
    demo.add_argument("--n-subjects", type=int, default=100)
    demo.add_argument(
        "--effect",
        default="interaction",
        choices=["interaction", "prognostic", "demographics", "none"],
    )
    demo.add_argument(
        "--grid",
        default="fsl2",
        choices=sorted(GRIDS),
        help="synthetic image grid (fsl2: FSL MNI152 2 mm; fsl6: small, fast)",
    )
    demo.add_argument(
        "--overwrite",
        action="store_true",
        help="replace what an earlier demo wrote in --out (nothing else is touched)",
    )
    demo.add_argument("--n-repeats", type=int, default=5)
    demo.add_argument(
        "--modality",
        action="store_true",
        help="treatment selection (CBT vs SSRI+CBT) instead of response",
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--n-jobs", type=int, default=None)

    run = sub.add_parser("run", help="run the analysis described by a TOML file")
    run.add_argument("config", type=Path)
    run.add_argument(
        "--plan",
        type=Path,
        default=None,
        help="a preregistered plan (txpredict plan): the run is refused if it "
        "differs, unless --deviation says why",
    )
    run.add_argument(
        "--deviation",
        action="append",
        default=[],
        metavar="WHY",
        help="why the run differs from its plan (repeatable); listed in the report",
    )

    plan = sub.add_parser(
        "plan",
        help="fix the analysis before the outcomes are seen: plan.json and its SHA-256",
        description="Resolve the configuration (every default explicit), record the "
        "software versions and fingerprint the data the analysis may see while "
        "blind (baseline columns, image files; never the outcome or a column "
        "measured after treatment). Deposit plan.json (e.g. on OSF); then run "
        "with --plan plan.json.",
    )
    plan.add_argument("config", type=Path)
    plan.add_argument(
        "--out",
        type=Path,
        default=Path("plan.json"),
        help="the plan file (default plan.json; plan.md beside it)",
    )
    plan.add_argument(
        "--overwrite", action="store_true", help="replace an existing plan file"
    )

    predict = sub.add_parser(
        "predict", help="response probabilities of new images from a saved model"
    )
    predict.add_argument("model", type=Path)
    predict.add_argument("images", type=Path, nargs="+")
    predict.add_argument(
        "--out", type=Path, help="also write the table to this CSV file (a new file)"
    )
    predict.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the --out file if it exists",
    )

    benchmark = sub.add_parser("benchmark", help="benchmarks of methods")
    which = benchmark.add_subparsers(dest="benchmark", required=True)
    schemes = which.add_parser(
        "cv-schemes",
        help="how LOO, k-fold, non-nested and nested CV estimates compare with the "
        "true accuracy, on replicate synthetic cohorts",
    )
    schemes.add_argument(
        "--out", type=Path, default=Path("txpredict_cv_schemes"), help="output folder"
    )
    schemes.add_argument("--overwrite", action="store_true")
    schemes.add_argument(
        "--quick",
        action="store_true",
        help="n = 20, 40; 10 replicates; 500 true-sample patients (< 1 minute)",
    )
    schemes.add_argument(
        "--sizes", default=None, help="comma-separated sample sizes (20,40,100,200)"
    )
    schemes.add_argument("--n-replicates", type=int, default=None)
    schemes.add_argument("--n-true", type=int, default=None)
    schemes.add_argument("--seed", type=int, default=0)
    schemes.add_argument("--n-jobs", type=int, default=None)

    external = sub.add_parser(
        "validate-external",
        help="score a saved model, unchanged, on a new labelled cohort",
    )
    external.add_argument("model", type=Path)
    external.add_argument("dataset", type=Path)
    _add_dataset_options(external)
    external.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write the per-patient CSV here (a new file)",
    )
    external.add_argument(
        "--overwrite", action="store_true", help="replace the --out file if it exists"
    )

    samplesize = sub.add_parser(
        "samplesize",
        help="patients needed to develop a model of response (Riley et al. 2020)",
        description="The minimum sample size for developing a prediction model of "
        "a binary outcome: the largest of Riley et al.'s three criteria (expected "
        "shrinkage, optimism in R^2, precision of the overall risk).",
    )
    samplesize.add_argument(
        "--parameters",
        type=int,
        required=True,
        help="candidate predictor parameters (e.g. 9 ROI means + 4 demographic terms)",
    )
    samplesize.add_argument(
        "--prevalence", type=float, required=True, help="anticipated response rate"
    )
    given = samplesize.add_mutually_exclusive_group(required=True)
    given.add_argument("--auc", type=float, help="anticipated C statistic (AUC)")
    given.add_argument("--r2", type=float, help="anticipated Cox-Snell R^2")
    samplesize.add_argument(
        "--shrinkage", type=float, default=0.9, help="target shrinkage (default 0.9)"
    )

    validate = sub.add_parser(
        "validate", help="check a dataset folder and summarise it"
    )
    validate.add_argument("dataset", type=Path)
    _add_dataset_options(validate)
    validate.add_argument(
        "--full",
        action="store_true",
        help="also decompress every image (finds truncated files; slower)",
    )
    return parser


def _demo(args) -> int:
    from txpredict.demo import run_demo

    options = {
        "n_subjects": args.n_subjects,
        "effect": args.effect,
        "grid": args.grid,
        "n_repeats": args.n_repeats,
        "random_state": args.seed,
        "n_jobs": args.n_jobs,
        "modality": args.modality,
        "overwrite": args.overwrite,
    }
    if args.out is not None:
        print(run_demo(args.out, **options))
        return 0
    with tempfile.TemporaryDirectory(prefix="txpredict_demo_") as tmp:
        print(run_demo(Path(tmp) / "demo", **options))
        print("(temporary folder, now deleted: pass --out DIR to keep the report)")
    return 0


def _run(args) -> int:
    from txpredict.run import read_config, read_plan, run_analysis

    if args.deviation and args.plan is None:
        raise TxpredictError(
            "--deviation explains a difference from --plan; give both."
        )
    config = read_config(args.config)
    plan = read_plan(args.plan) if args.plan is not None else None
    run_analysis(config, plan=plan, deviations=args.deviation)
    return 0


def _plan(args) -> int:
    from txpredict.run import describe_plan, make_plan, read_config, write_plan

    plan = make_plan(read_config(args.config))
    json_path, readable = write_plan(plan, args.out, overwrite=args.overwrite)
    print(f"Wrote {json_path} and {readable}: {describe_plan(plan)}")
    print(
        "Deposit plan.json (or this SHA-256) before the outcomes are seen; then "
        f"txpredict run {args.config} --plan {json_path}"
    )
    return 0


def _samplesize(args) -> int:
    from txpredict.stats import minimum_sample_size

    print(
        minimum_sample_size(
            args.parameters,
            args.prevalence,
            r2_cs=args.r2,
            c_statistic=args.auc,
            shrinkage=args.shrinkage,
        )
    )
    return 0


def _check_new_file(path: Path | None, overwrite: bool) -> None:
    """Refuse, before any work, an --out file that would replace the user's own."""
    if path is None:
        return
    if path.is_dir():
        raise TxpredictError(f"--out {str(path)!r} is a folder; give a file name.")
    if path.exists() and not overwrite:
        raise TxpredictError(
            f"--out {str(path)!r} already exists; txpredict does not replace a file "
            "it may not have written. Choose a new name, or pass --overwrite."
        )


def _predict(args) -> int:
    from txpredict.run import predict_images

    _check_new_file(args.out, args.overwrite)
    table = predict_images(args.model, args.images)
    if table.attrs.get("warning"):
        print(table.attrs["warning"], file=sys.stderr)
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.out is not None:
        from txpredict._io import write_text_atomic

        write_text_atomic(args.out, table.to_csv())
        print(f"wrote {args.out}")
    return 0


def _benchmark(args) -> int:
    from txpredict._io import check_output_folder
    from txpredict.cv_schemes import QUICK, compare_cv_schemes

    options = dict(QUICK) if args.quick else {}
    if args.sizes:
        try:
            options["sample_sizes"] = [int(v) for v in args.sizes.split(",")]
        except ValueError:
            raise TxpredictError(
                f"--sizes must be comma-separated integers, e.g. 20,40,100; got "
                f"{args.sizes!r}."
            ) from None
    if args.n_replicates is not None:
        options["n_replicates"] = args.n_replicates
    if args.n_true is not None:
        options["n_true"] = args.n_true
    # Checked before hours of computing, not after.
    check_output_folder(args.out, overwrite=args.overwrite, option="--overwrite")
    result = compare_cv_schemes(
        **options, n_jobs=args.n_jobs, random_state=args.seed, progress=True
    )
    out = result.save(args.out, overwrite=args.overwrite)
    columns = ["effect", "n", "scheme", "ba_mean", "ba_bias", "ba_sd", "ba_coverage"]
    print(result.summary()[[*columns, "significant_rate"]].to_string(index=False))
    print(f"wall time {result.info['wall_seconds']:.0f} s; wrote {out}/report.html")
    return 0


def _add_dataset_options(parser) -> None:
    """How to read a dataset folder: image pattern and outcome (see _outcome_option)."""
    parser.add_argument(
        "--image-pattern",
        default=None,
        help="path template with {participant_id} or {subject}",
    )
    parser.add_argument("--outcome", default="responder")
    parser.add_argument(
        "--pre", default=None, help="pre-treatment score column (with --post)"
    )
    parser.add_argument(
        "--post", default=None, help="post-treatment score column (with --pre)"
    )
    parser.add_argument(
        "--treatment", default="treatment", help="column of the treatment arm"
    )
    for role, text in (
        ("post-treatment", "columns measured after treatment (never predictors)"),
        ("baseline", "columns measured before treatment, whatever the screens say"),
        ("ignored", "columns no model may read"),
    ):
        parser.add_argument(
            f"--{role}", nargs="*", default=[], metavar="COLUMN", help=text
        )


def _outcome_option(args):
    """--outcome, or the responder rule of --pre and --post."""
    from txpredict.cohort import SymptomReduction

    if (args.pre is None) != (args.post is None):
        raise TxpredictError("--pre and --post go together (both score columns).")
    return SymptomReduction(args.pre, args.post) if args.pre else args.outcome


def _validate(args) -> int:
    from txpredict.cohort import DEFAULT_IMAGE_PATTERN, load_cohort, read_every_image
    from txpredict.leakage import LeakageWarning
    from txpredict.run import checks_text, roi_means, site_check

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeakageWarning)  # printed below
        cohort = load_cohort(
            args.dataset,
            args.image_pattern or DEFAULT_IMAGE_PATTERN,
            outcome=_outcome_option(args),
            treatment=args.treatment,
            post_treatment=args.post_treatment,
            baseline=args.baseline,
            ignored=args.ignored,
        )
    checked = "headers only; --full reads every voxel"
    checks = list(cohort.checks)
    if args.full:
        nonfinite = read_every_image(cohort)
        checked = "every image decompressed"
        checks.append(site_check(cohort, roi_means(cohort.X)))
    found = [c for c in checks if c.status == "found"]
    print(f"{'OK' if not found else 'Found possible leaks'} ({checked}): {cohort!r}")
    for column, grid in cohort.info.get("grids", {}).items():
        print(f"  {column}: {grid}")
        if args.full and nonfinite.get(column):
            print(
                f"  {column}: {len(nonfinite[column])} image(s) hold NaN/inf voxels "
                f"({nonfinite[column][:5]}): extraction refuses them unless "
                'nonfinite="ignore".'
            )
    X = cohort.X.drop(columns=list(cohort.info.get("grids", {})))
    missing = X.isna().sum()
    for column, n in missing[missing > 0].items():
        print(f"  column {column!r}: {n} missing value(s) (imputed inside folds)")
    print(checks_text(checks))
    return 1 if found else 0


def _validate_external(args) -> int:
    from txpredict._io import write_text_atomic
    from txpredict.cohort import DEFAULT_IMAGE_PATTERN, load_cohort
    from txpredict.evaluation import validate_external
    from txpredict.persistence import describe_training, load_model

    _check_new_file(args.out, args.overwrite)
    outcome = _outcome_option(args)
    model, provenance = load_model(args.model)
    cohort = load_cohort(
        args.dataset,
        args.image_pattern or DEFAULT_IMAGE_PATTERN,
        outcome=outcome,
        treatment=args.treatment,
        post_treatment=args.post_treatment,
        baseline=args.baseline,
        ignored=args.ignored,
    )
    print(f"Model {args.model}: {describe_training(model, provenance)}")
    print(f"New cohort: {cohort!r}")
    result = validate_external(model, cohort)
    print(result.table.round(3).to_string())
    if result.calibration:
        c = result.calibration
        print(
            f"calibration: observed {c['observed']:.3f}, mean predicted "
            f"{c['mean_predicted']:.3f}, intercept {c['intercept']:+.3f}, slope "
            f"{c['slope']:.3f}, Brier {c['brier']:.3f}"
        )
    for note in result.checks:
        print(f"note: {note}")
    if args.out is not None:
        write_text_atomic(args.out, result.predictions.to_csv())
        print(f"Wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    np.set_printoptions(precision=3, suppress=True)
    try:
        commands = {
            "demo": _demo,
            "validate": _validate,
            "run": _run,
            "plan": _plan,
            "predict": _predict,
            "benchmark": _benchmark,
            "validate-external": _validate_external,
            "samplesize": _samplesize,
        }
        return commands[args.command](args)
    except (TxpredictError, FileExistsError) as exc:
        print(f"txpredict: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Outputs are built in a temporary folder that only a success renames.
        print(
            f"txpredict {args.command}: interrupted; no output was written.",
            file=sys.stderr,
        )
        return 130
