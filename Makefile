# The two set-up commands: `make demo` and `make test`. Both create .venv when it is missing and
# install the project into it; the stamp file makes a second run install nothing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mrissl-installed
CORES  ?= 2

.PHONY: demo test report lineage clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest -q -rs --durations=15

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

lineage: $(STAMP)
	$(BIN)/mrissl-lineage $(TARGET)

clean:
	rm -rf results/* .snakemake logs benchmarks private
