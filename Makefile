# yizhan — two entry points for a fresh Debian machine:
#   make demo   installs everything, builds the demo database, serves map + API
#   make test   installs everything, starts PostgreSQL/PostGIS, runs the tests
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYS_PKGS := python3-venv libsqlite3-mod-spatialite postgresql-15 postgresql-15-postgis-3 chromium fonts-noto-cjk wrk nodejs
PG_DB ?= yizhan_test
PORT ?= 8000
export YIZHAN_TEST_PG_URL ?= postgresql+psycopg:///$(PG_DB)?host=/var/run/postgresql

.PHONY: demo test sys venv pg bench clean

demo: sys venv
	$(VENV)/bin/yizhan demo --port $(PORT)

test: sys venv pg
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

sys:
	@missing=""; for p in $(SYS_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "apt-get install:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || /usr/bin/python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[test]'
	$(PY) -c "import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); c.load_extension('mod_spatialite')"
	touch $@

pg:
	@pg_lsclusters -h 2>/dev/null | grep -q ' online ' || $(SUDO) pg_ctlcluster --skip-systemctl-redirect 15 main start
	@for i in $$(seq 1 30); do pg_isready -q -h /var/run/postgresql && break; sleep 1; done
	@me=$$(id -un); $(SUDO) runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='$$me'" | grep -q 1 \
	  || $(SUDO) runuser -u postgres -- psql -qc "CREATE ROLE \"$$me\" SUPERUSER LOGIN"
	@psql -h /var/run/postgresql -d postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='$(PG_DB)'" | grep -q 1 \
	  || psql -h /var/run/postgresql -d postgres -qc "CREATE DATABASE $(PG_DB)"
	@psql -h /var/run/postgresql -d $(PG_DB) -qc "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null

bench: sys venv pg
	$(PY) -m pip install -q -c requirements.lock -e '.[test,bench]'
	for b in bench/*_bench.py; do echo "== $$b"; $(PY) $$b --small || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache yizhan.db
