# Set-up and checks. Every target creates (or reuses) the virtual environment $(VENV) and
# installs rllib-meta into it with the pinned versions of constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rllib-meta-installed
RESULTS ?= $(CURDIR)/results

.PHONY: install demo test lint bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The main job on embedded defaults: train the tuned example, then evaluate its checkpoint.
demo: $(STAMP)
	$(BIN)/rllib train file tuned_examples/ppo_ipd.yaml --storage-path $(RESULTS)
	$(BIN)/rllib evaluate $(RESULTS)/ppo-ipd --episodes 50

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/matrix_throughput.py

clean:
	rm -rf $(VENV) $(RESULTS) .pytest_cache .ruff_cache *.egg-info
