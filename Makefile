# The project's one entry point. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run demo test check lint types format clean bench fuzz proto eval

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: the live server on embedded defaults (OTLP/gRPC 127.0.0.1:4317, HTTP 127.0.0.1:9464).
run: $(STAMP)
	$(BIN)/streamproc serve

# The batch analysis of a generated incident, a before/after comparison, its diagnosis, and the HTML report.
demo: $(STAMP)
	mkdir -p build
	$(BIN)/streamproc generate --scenario incident --count 2000 --seed 7 --output build/incident.json
	$(BIN)/streamproc generate --scenario fixed --count 2000 --seed 7 --output build/fixed.json
	$(BIN)/analyze-traces build/incident.json
	$(BIN)/analyze-traces build/fixed.json --baseline build/incident.json --bottlenecks
	$(BIN)/analyze-traces build/incident.json --baseline build/fixed.json --diagnose --insights
	$(BIN)/analyze-traces build/incident.json --baseline build/fixed.json --diagnose --html build/incident.html >/dev/null

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff format --check streamproc tests bench
	$(BIN)/ruff check streamproc tests bench

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

format: $(STAMP)
	$(BIN)/ruff format streamproc tests bench
	$(BIN)/ruff check --fix streamproc tests bench

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Benchmarks: throughput, memory, completion latency, batch speed (minutes; not part of `make test`).
bench: $(STAMP)
	$(BIN)/python -m bench

# The diagnosis against generated faults: top-1/top-3 per fault kind on held-out seeds (minutes).
eval: $(STAMP)
	$(BIN)/python -m bench.eval

# A long fuzz run: the fuzz tests with many more examples than `make test` gives them (minutes).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-10000} $(BIN)/pytest -q -p no:cacheprovider tests/test_fuzz.py

# The query API's Python code (streamproc/v1/, committed) from proto/streamproc/v1/analysis.proto.
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=. --pyi_out=. --grpc_python_out=. \
		proto/streamproc/v1/analysis.proto
