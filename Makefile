# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
CHROMIUM ?= /usr/bin/chromium

.PHONY: install bytecode browser run test lint bench demo

install: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

# Debian's Chromium drives the browser tests (Playwright never downloads a browser).
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

# Bytecode compiled ahead (only what changed): a start imports, it does not compile.
bytecode: install
	$(PY) -m compileall -q dashboard services pages

run: bytecode
	$(PY) -m streamlit run dashboard/server.py

test: install browser
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .

demo: install
	$(PY) -m services demo

# `make bench SIZE=500000` (make itself takes no `--size`); BENCH_ARGS passes any other option.
SIZE ?= 100000
BENCH_ARGS ?=
bench: bytecode browser
	$(PY) -m benchmarks --size $(SIZE) $(BENCH_ARGS)
