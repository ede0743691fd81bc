# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install browser smsc clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/comptoir demo

# The browser tests drive Debian's Chromium; install it when missing (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

# The SMPP tests talk to a real SMSC process: node-smpp, an implementation independent of
# ours, pinned by tests/smpp_server/package-lock.json (Node.js from Debian when missing).
SMSC := tests/smpp_server/node_modules/.package-lock.json
$(SMSC): tests/smpp_server/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; fi; }
	npm ci --prefix tests/smpp_server --no-audit --no-fund --silent
	touch $(SMSC)

smsc: $(SMSC)

test: $(STAMP) browser $(SMSC)
	$(BIN)/ruff check .
	$(BIN)/mypy comptoir
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/comptoir bench segments
	$(BIN)/comptoir bench send --messages 20000

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
