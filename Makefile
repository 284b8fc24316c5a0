PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv run test bench screenshots clean

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

run: venv
	@bash scripts/run.sh

test: venv
	@bash scripts/ensure-browser.sh
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	@bash bench/run.sh

screenshots: venv
	@bash scripts/ensure-browser.sh
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) var media db.sqlite3
