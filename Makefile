# One command each: `make lab` (notebooks), `make test` (every test), `make export`, `make bench`,
# `make student` (handout without solutions) and `make grade SUBMISSIONS=dir` (autograde a class).
# Everything goes into a private virtual environment, .venv, next to this file.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PyTorch is only a test reference. CPU wheel pinned; set TORCH= to skip it (the torch tests then skip).
TORCH ?= torch==2.13.0

.PHONY: setup lab test test-fast export bench student grade

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

setup: $(BIN)/python
	$(BIN)/python -m pip install -e ".[test]"

# Jupyter refuses to run as root unless told; containers often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

test: $(BIN)/python
	$(BIN)/python -m pip install -e ".[test]" $(TORCH)
	bash .ci/install-browser
	$(BIN)/python -m pytest

# library tests only: no notebooks, no browser
test-fast: setup
	$(BIN)/python -m pytest tests -m "not browser" -o addopts="-p no:cacheprovider"

# the student notebooks, without solutions or hidden tests, in student/ (nbgrader generate_assignment)
student: setup
	$(BIN)/python -m cnnlib.classroom student

# autograde SUBMISSIONS/<student>/NN_name.ipynb with nbgrader, write the grades to GRADES
SUBMISSIONS ?= submissions
GRADES ?= grades.csv
grade: setup
	$(BIN)/python -m cnnlib.classroom grade $(SUBMISSIONS) --csv $(GRADES)

export: setup
	$(BIN)/python -m cnnlib.export

bench: $(BIN)/python
	$(BIN)/python -m pip install -e ".[test]" $(TORCH)
	$(BIN)/python benchmarks/throughput.py
