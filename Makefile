# Pasar: `make demo` sets up and serves the demo; `make test` sets up and runs every test tier.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi

# The tiers that need services use these unless they are already set (see README).
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/pasar_test
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/8
export TEST_DATABASE_URL TEST_REDIS_URL

# Links printed and served must carry the port the demo runs on.
ifneq ($(PORT),5000)
export PLATFORM_DOMAIN ?= pasar.localhost:$(PORT)
endif

.PHONY: demo test setup assets migrate seed serve lint format browser-deps clean

demo: setup migrate seed serve  ## install, migrate, seed the demo and serve it on :$(PORT)

test: setup browser-deps  ## install, then run unit, web, integration and browser tests
	$(BIN)/ruff check .
	bash scripts/test.sh

setup: $(VENV)/.installed assets

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

assets: static/vendor/htmx.min.js

static/vendor/htmx.min.js: package.json package-lock.json scripts/vendor-assets.mjs
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent vendor

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

seed: $(VENV)/.installed
	$(FLASK) seed-demo

serve: $(VENV)/.installed
	@echo "Open http://pasar.localhost:$(PORT)/ (platform) and http://acme.pasar.localhost:$(PORT)/ (a store)"
	$(FLASK) run --port $(PORT)

browser-deps:  ## Debian's chromium for the browser tests (installed when running as root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: the browser tests will be skipped"; fi; }

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules static/vendor instance test-artifacts .pytest_cache .ruff_cache
