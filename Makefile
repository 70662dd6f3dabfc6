# indagent: `make run` serves the API on 127.0.0.1:8000 with the embedded defaults,
# `make test` lints and runs the whole test suite (and the CI eval gate).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint install clean browser postgres

# Debian's PostgreSQL server binaries for the scale-out tests (they start a throwaway cluster on
# 127.0.0.1 and skip, saying why, without them). No service is started here.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q postgresql >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1; }; }; } || \
	  echo "note: postgresql not installed; the Postgres scale-out tests will be skipped"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PY) -m pip install --quiet -e '.[dev,postgres,ray]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/indagent serve --init-demo

lint: $(STAMP)
	$(VENV)/bin/ruff check agents tools knowledge server evals tests benches

test: $(STAMP) lint browser postgres
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider
	$(VENV)/bin/indagent eval --suite ci

# Debian's Chromium for the web-page test (best effort: the test skips, saying why, without it).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }; }; } || \
	  echo "note: chromium not installed; the web-page test will be skipped"

bench: $(STAMP)
	$(PY) benches/run_all.py

clean:
	rm -rf $(VENV) var
