# trifactor: `make demo` and `make test` set everything up on first use (Python >= 3.11, g++, make).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: setup test test-full demo bench compare speed units measure clean help

help:
	@echo "make demo       train the default core in Verilator beside the golden models, synthesize it for the UP5K (build/report.md; 2 min from a clean clone)"
	@echo "make test       the test suite without the slow runs: 11 min 0 s for 1347 tests from a clean clone on a 2-core Intel Xeon VM, 10 to 12 min on an AMD EPYC one (sets up .venv first)"
	@echo "make test-full  every test, including slow end-to-end runs"
	@echo "make bench      measure accuracy and speed of the golden models (build/bench/)"
	@echo "make compare    the learning rules side by side on digits: accuracy, cycles, MACs, memory traffic (build/compare/)"
	@echo "make speed      simulation speed on digits: an epoch from the data store (native) and per sample (cocotb), medians of 3"
	@echo "make units      RTL unit testbenches + MAC synthesis, then their latency/throughput/cells (build/units.md)"
	@echo "make measure    re-measure the README's figures into docs/measurements.md; one part: WHAT=accuracy|learned|conv|cycles|speed|synth|variants|boards|sweep (hours for all)"
	@echo "make setup      create .venv and install trifactor with its dependencies"
	@echo "make clean      remove build/ (keeps .venv)"

setup: $(STAMP)

# Re-installs only when the dependency list or the pinned versions change.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "error: trifactor needs Python >= 3.11, $(PYTHON) is %d.%d; fix: make PYTHON=python3.11 ..." % v[:2])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

test: setup
	$(BIN)/pytest -m "not slow" -n $(JOBS)

test-full: setup
	$(BIN)/pytest -n $(JOBS)

demo: setup
	$(BIN)/trifactor demo

bench: setup
	$(BIN)/trifactor bench

compare: setup
	$(BIN)/trifactor compare --config configs/digits.toml

speed: setup
	$(BIN)/python -m trifactor.scripts.sim.speed --config configs/digits.toml --runs 3

units: setup
	$(BIN)/pytest -n $(JOBS) tb/core/test_mac_array.py tb/core/test_update_unit.py tb/rules/test_feedback_unit.py \
		tb/core/test_output_error.py tb/core/test_synth_mac_array.py tb/core/test_core.py -k "not icarus"
	$(BIN)/trifactor units-report

WHAT ?= all
measure: setup
	$(BIN)/trifactor measure --what $(WHAT)

clean:
	rm -rf build
