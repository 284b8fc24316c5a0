PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv run check test test-s3 bench screenshots clean

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

run: venv
	@bash scripts/run.sh

# The architecture rules (docs/architecture.md): one-way imports, no cycles,
# every third-party import declared. Also run by tests/core/test_architecture.py.
check: venv
	$(VENV)/bin/lint-imports
	$(VENV)/bin/deptry .
	cd clients/python && ../../$(VENV)/bin/deptry .

test: venv check
	@bash scripts/ensure-browser.sh
	$(PY) -m pytest $(PYTEST_ARGS)
	@if [ -z "$(PYTEST_ARGS)" ]; then $(MAKE) --no-print-directory test-s3; fi

# The storage-relevant tests again with job files in a bucket of a local S3
# server (moto, started by the tests): jobs (stream, output, uploads, deletes,
# worker input/output), health and diagnostics, webhook payload links, output
# downloads through the client, the dashboard and the data quota, the
# multi-node and worker-loss tests. (Every test passes on S3: run
# `make test-s3 S3_TESTS=tests` for all of them; CI runs this subset to stay
# well under 10 minutes.)
S3_TESTS ?= tests/jobs/test_object_storage.py tests/jobs/test_object_storage_outages.py tests/jobs/test_storage.py \
	tests/jobs/test_stream.py tests/jobs/test_state.py tests/jobs/test_worker.py tests/jobs/test_e2e.py \
	tests/jobs/test_output_limits.py tests/jobs/test_recovery.py tests/ops/test_health.py tests/ops/test_diagnostics.py tests/webhooks/test_job_events.py \
	tests/quotas/test_data_quota_download.py tests/clients/test_client.py tests/dashboard/test_jobs.py \
	tests/resilience/test_multi_node.py tests/resilience/test_worker_loss.py
test-s3: venv
	AIPROD_TEST_STORAGE=s3 $(PY) -m pytest $(S3_TESTS)

bench: venv
	@bash bench/run.sh

screenshots: venv
	@bash scripts/ensure-browser.sh
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) var media db.sqlite3
