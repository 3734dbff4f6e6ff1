# One command each: `make lab` (notebooks), `make test` (every test), `make export`, `make bench`, `make notebooks`,
# `make student` (handout without solutions) and `make grade SUBMISSIONS=dir [GRADES=file] [TIMEOUT=s]` (grade a class).
# Everything goes into a private virtual environment, .venv, next to this file.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PyTorch is only a test reference. CPU wheel pinned; set TORCH= to skip it (the torch tests then skip).
TORCH ?= torch==2.13.0

.PHONY: setup setup-test setup-classroom setup-export lab test test-fast export bench student grade notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# the runtime only: what the notebooks need (no test tools, no PyTorch)
setup: $(BIN)/python
	$(BIN)/python -m pip install -e .

# the runtime plus nbgrader, for instructors (make student, make grade)
setup-classroom: $(BIN)/python
	$(BIN)/python -m pip install -e ".[classroom]"

# the runtime plus the test tools and the PyTorch reference
setup-test: $(BIN)/python
	$(BIN)/python -m pip install -e ".[test]" $(TORCH)

# the runtime plus Playwright and Debian's chromium (when missing), for the PDF handouts of make export
setup-export: $(BIN)/python
	$(BIN)/python -m pip install -e ".[export]"
	bash .ci/install-browser

# trusts the notebooks, then jupyter lab notebooks/ (with --allow-root when run as root, as in many containers)
lab: setup
	$(BIN)/python -m cnnlib.lab

test: setup-test
	bash .ci/install-browser
	bash .ci/install-bubblewrap
	bash .ci/apt-install-missing pdftotext poppler-utils
	$(BIN)/python -m pytest

# library tests only: no notebooks, no browser
test-fast: setup-test
	$(BIN)/python -m pytest tests -m "not browser" -o addopts="-p no:cacheprovider"

# the student notebooks, without solutions or hidden tests, in student/ (nbgrader generate_assignment)
student: setup-classroom
	$(BIN)/python -m cnnlib.classroom student

# grade SUBMISSIONS/<student>/NN_name.ipynb: each exercise function runs in a bubblewrap sandbox (at most TIMEOUT
# seconds), the verdicts go into nbgrader's gradebook and GRADES (make grade SUBMISSIONS=dir GRADES=g.csv TIMEOUT=60)
SUBMISSIONS ?= submissions
GRADES ?= grades.csv
TIMEOUT ?= 120
grade: setup-classroom
	$(BIN)/python -m cnnlib.classroom grade $(SUBMISSIONS) --csv $(GRADES) --timeout $(TIMEOUT)

# site/: one HTML page and one PDF per notebook, MathJax copied beside them; works offline
export: setup-export
	$(BIN)/python -m cnnlib.export

# re-run every notebook top to bottom in a fresh kernel and save it with its outputs (for contributors). No widget
# state is saved: each widget output carries a PNG of its figure, which every viewer without a kernel shows.
# The kernels get encrypted channels (no "running over TCP without encryption" warning); afterwards each notebook's
# kernelspec is set to the installed kernel's and the notebooks are trusted, so JupyterLab opens them unmodified.
notebooks: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.store_widget_state=False \
		--KernelManager.transport_encryption=auto notebooks/[0-9][0-9]_*.ipynb
	$(BIN)/python -m cnnlib.lab --prepare

bench: setup-test
	$(BIN)/python benchmarks/throughput.py
