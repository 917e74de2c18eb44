# The two commands for a fresh machine:
#   make run   - set up, seed the demo ILS, serve http://127.0.0.1:5000 and print the demo logins
#   make test  - set up and run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup run test browser-deps translations lint clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed translations
	$(PY) -m config.init

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d translations 2>&1 | grep -v "^compiling" || true

# Debian's Chromium and CJK fonts for the browser tests (Playwright never downloads a browser here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; fi; }

run: setup
	$(FLASK) --app app demo patrons
	$(FLASK) --app app run --host $(HOST) --port $(PORT)

test: setup browser-deps
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
