# Everything sets itself up: `make demo` and `make test` work on a fresh clone with
# nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint benchmarks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	# A fresh demo each time, kept so that its report can be opened; --overwrite
	# replaces only what an earlier demo wrote there.
	$(BIN)/txpredict demo --out txpredict_demo --overwrite

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/extraction.py
	$(BIN)/python benchmarks/nested_cv.py
	$(BIN)/python benchmarks/modality.py
	$(BIN)/python benchmarks/modality_calibration.py
	$(BIN)/python benchmarks/modality_strategies.py
	$(BIN)/python benchmarks/probability_calibration.py
	$(BIN)/python benchmarks/cv_schemes.py
	$(BIN)/python benchmarks/multisite.py
	$(BIN)/python benchmarks/maps.py
	# benchmarks/calibration.py takes about an hour: run it on its own.

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache txpredict_demo
