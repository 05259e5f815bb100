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
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,mujoco,atari]"
	touch $(STAMP)

install: $(STAMP)

# The main job on embedded defaults: Meta-MAPG on the IPD at the paper's setting for a few
# iterations (the full run is `rllib train file tuned_examples/meta_mapg_ipd.yaml`), then
# meta-testing of its checkpoint on the 40 test personas, with plots in $(RESULTS)/meta-test.
DEMO_ITERATIONS ?= 3
demo: $(STAMP)
	$(BIN)/rllib train file tuned_examples/meta_mapg_ipd.yaml --storage-path $(RESULTS) \
		--stop '{"training_iteration": $(DEMO_ITERATIONS)}'
	$(BIN)/rllib evaluate $(RESULTS)/meta-mapg-ipd --output-dir $(RESULTS)/meta-test

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/matrix_throughput.py
	$(BIN)/python benchmarks/meta_mapg_iteration.py
	$(BIN)/python benchmarks/meva_outer_loop.py
	$(BIN)/python benchmarks/halfcheetah_sampling.py
	$(BIN)/python benchmarks/atari_trade_throughput.py
	$(BIN)/python benchmarks/mra_throughput.py
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python benchmarks/particle_throughput.py

clean:
	rm -rf $(VENV) $(RESULTS) .pytest_cache .ruff_cache *.egg-info
