"""The benchmark scripts still run (their --quick size; no result is written)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
#: joblib runs every Parallel call in-process: the suite already keeps both
#: cores busy (one test file per xdist worker), so worker pools would only add
#: their start-up (each worker imports txpredict) and contention, doubling
#: these runs. That results do not depend on n_jobs is tested where it matters.
SEQUENTIAL = {**os.environ, "JOBLIB_MULTIPROCESSING": "0"}
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def _results():
    return {
        p: p.stat().st_mtime_ns
        for p in (BENCHMARKS / "results").rglob("*")
        if p.is_file()
    }


#: Scripts that run a competitor installed by the ``benchmarks`` extra only
#: (``make benchmarks``), not by the test extra: econml pulls numba, shap and
#: lightgbm, and caps scikit-learn.
COMPETITORS = {"modality_peers.py": "econml"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_quick(script):
    competitor = COMPETITORS.get(script)
    if competitor and importlib.util.find_spec(competitor) is None:
        pytest.skip(
            f"BENCHMARK {script} WAS NOT RUN: its competitor {competitor} is not "
            "installed (pip install -e '.[benchmarks]', or make benchmarks)."
        )
    before = _results()
    run = subprocess.run(
        [sys.executable, script, "--quick"],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=300,
        env=SEQUENTIAL,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip()  # it reports something
    assert _results() == before  # quick runs never overwrite the committed results


def test_every_benchmark_is_covered():
    """The glob finds the scripts (a wrong path would silently test nothing)."""
    expected = {"extraction", "nested_cv", "modality", "modality_calibration"}
    expected |= {"calibration", "multisite", "modality_strategies"}
    expected |= {"probability_calibration", "leakage"}
    assert {f"{name}.py" for name in (*expected, "cv_schemes")} <= set(SCRIPTS)


def test_make_benchmarks_runs_every_script():
    """The README says ``make benchmarks`` re-runs the benchmarks: all of them
    but the hour-long calibration, detectable-effect and scale benchmarks."""
    makefile = (BENCHMARKS.parent / "Makefile").read_text()
    listed = makefile.split("BENCHMARK_SCRIPTS :=")[1].split("\n\n")[0]
    names = set(listed.replace("\\", " ").split())
    assert {f"{n}.py" for n in names} == set(SCRIPTS) - {
        "calibration.py",
        "detectable_effect.py",
        "scale.py",
    }
