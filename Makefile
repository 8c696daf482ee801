# Everything sets itself up: `make demo` and `make test` work on a fresh clone with
# nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCHMARK_STAMP := $(VENV)/.benchmarks-installed

.PHONY: demo test lint benchmarks clean docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# The reference of minimum_sample_size's tests (Riley et al.'s pmsampsize; GPL,
	# test time only, never imported by txpredict). Its metadata asks for Python
	# 3.12 but the code runs on 3.11; its dependencies are in the test extra.
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python "pmsampsize==0.1.0"
	touch $(STAMP)

# The competitors the benchmarks run (econml), on top of the test environment.
$(BENCHMARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,benchmarks]"
	touch $(BENCHMARK_STAMP)

demo: $(STAMP)
	# A fresh demo each time, kept so that its report can be opened; --overwrite
	# replaces only what an earlier demo wrote there.
	$(BIN)/txpredict demo --out txpredict_demo --overwrite

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks examples docs
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks examples docs
	$(BIN)/ruff format --check src tests benchmarks examples docs

# Every script of benchmarks/ (tests/test_benchmarks.py checks the list is whole),
# except calibration.py and detectable_effect.py (one and two hours) and scale.py
# (longer, ~10 GB of images): run those on their own.
BENCHMARK_SCRIPTS := extraction nested_cv modality modality_calibration \
	modality_strategies modality_peers probability_calibration probability_methods \
	cv_schemes multisite maps importance leakage pai_intervals whole_run learning_curve

benchmarks: $(BENCHMARK_STAMP)
	for script in $(BENCHMARK_SCRIPTS); do \
		$(BIN)/python benchmarks/$$script.py || exit 1; \
	done

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache txpredict_demo docs/_build docs/generated docs/auto_examples

# The documentation site: docs/_build/html/index.html. Warnings are errors, and
# every example of the gallery runs (its figures are the code's as it stands).
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	rm -rf docs/_build docs/generated docs/auto_examples
	JOBLIB_MULTIPROCESSING=0 MPLBACKEND=agg $(BIN)/python -m sphinx -W --keep-going -b html -q docs docs/_build/html
