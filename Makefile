# The project's one entry point. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run demo test check lint types format clean bench fuzz proto eval build

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	STREAMPROC_PURE=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The build the commands below run: the hot modules (streamproc/buildinfo.py) compiled in place by mypyc
# where a C compiler is present, or the pure package with STREAMPROC_PURE=1. Rebuilt when a source changes.
SOURCES := $(shell find streamproc -name '*.py' -not -path 'streamproc/v1/*')
ifeq ($(filter-out 0,$(STREAMPROC_PURE)),)
BUILT := $(VENV)/.built-compiled
else
BUILT := $(VENV)/.built-pure
endif

$(VENV)/.built-compiled: $(STAMP) setup.py $(SOURCES)
	rm -f $(VENV)/.built-pure
	find streamproc -name '*.so' -delete  # a module taken off the list must not load its old extension
	$(BIN)/python setup.py --quiet build_ext --inplace
	find streamproc -name '*.so' -exec touch {} +  # copied with their build time: a comment-only change left them "older"
	touch $@

$(VENV)/.built-pure: $(STAMP)
	rm -f $(VENV)/.built-compiled
	find streamproc -name '*.so' -delete
	touch $@

build: $(BUILT)

# The main job: the live server on embedded defaults (OTLP/gRPC 127.0.0.1:4317, HTTP 127.0.0.1:9464).
run: $(BUILT)
	$(BIN)/streamproc serve

# The batch analysis of a generated incident, a before/after comparison, its diagnosis, and the HTML report.
demo: $(BUILT)
	mkdir -p build
	$(BIN)/streamproc generate --scenario incident --count 2000 --seed 7 --output build/incident.json
	$(BIN)/streamproc generate --scenario fixed --count 2000 --seed 7 --output build/fixed.json
	$(BIN)/analyze-traces build/incident.json
	$(BIN)/analyze-traces build/fixed.json --baseline build/incident.json --bottlenecks
	$(BIN)/analyze-traces build/incident.json --baseline build/fixed.json --diagnose --insights
	$(BIN)/analyze-traces build/incident.json --baseline build/fixed.json --diagnose --html build/incident.html >/dev/null

test: $(BUILT)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff format --check setup.py streamproc tests bench
	$(BIN)/ruff check setup.py streamproc tests bench

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

format: $(STAMP)
	$(BIN)/ruff format setup.py streamproc tests bench
	$(BIN)/ruff check --fix setup.py streamproc tests bench

clean:
	find streamproc -name '*.so' -delete
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Benchmarks: throughput, memory, completion latency, batch speed (minutes; not part of `make test`).
bench: $(BUILT)
	$(BIN)/python -m bench

# The diagnosis against generated faults: top-1/top-3 per fault kind on held-out seeds (minutes).
eval: $(BUILT)
	$(BIN)/python -m bench.eval

# A long fuzz run: the fuzz tests with many more examples than `make test` gives them (minutes).
fuzz: $(BUILT)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-10000} $(BIN)/pytest -q -p no:cacheprovider tests/test_fuzz.py

# The query API's Python code (streamproc/v1/, committed) from proto/streamproc/v1/analysis.proto.
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=. --pyi_out=. --grpc_python_out=. \
		proto/streamproc/v1/analysis.proto
