# Two commands do all set-up on a fresh machine (see README):
#   make demo   - create .venv, install with the local model, print a brief of the seed article
#   make test   - the same install plus test tools, then lint, type-check and the offline suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SEED := seeds/000_63ac3d2bfe42d99d.txt
# llama-cpp-python builds from source; the default native build segfaults on this machine kind.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
PYTEST_OFFLINE := --block-network --allowed-hosts=127.0.0.1,localhost --record-mode=none

.PHONY: demo test lint cassettes chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e '.[local,dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/summarizer brief $(SEED)

# The browser test needs Debian's chromium (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.installed
	$(BIN)/ruff check summarizer tests bench
	$(BIN)/ruff format --check summarizer tests bench
	$(BIN)/mypy

test: $(VENV)/.installed chromium lint
	$(BIN)/pytest $(PYTEST_OFFLINE)

# Re-record every cassette from the real embedded llama.cpp server (no network, no key).
cassettes: $(VENV)/.installed
	rm -rf tests/cassettes
	$(BIN)/pytest -m "not embedded and not browser" --record-mode=rewrite tests/test_cassettes.py

bench: $(VENV)/.installed
	$(BIN)/python bench/batch_throughput.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
