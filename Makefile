# 误刷助手. `make run` and `make test` do all the set-up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Rasa 3.6 supports Python 3.8–3.10 only; find a 3.10 on PATH or through pyenv.
PYTHON ?= $(shell for candidate in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do \
	"$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1 && { echo "$$candidate"; break; }; done)

VENV := .venv
BIN := $(VENV)/bin
# Rasa's command line with the project's patches (bot/rasa/patches), as everything here runs it.
RASA := $(BIN)/python -m bot.rasa
INSTALLED := $(VENV)/.installed
SPACY_MODEL := models/spacy_zh/meta.json
RASA_MODEL := models/wushua.tar.gz
NODE_INSTALLED := node_modules/.installed
CHROMIUM := /usr/bin/chromium
# Where `make run` serves, e.g. `make run RASA_PORT=5006`. Rasa finds the action
# server through ENDPOINTS: moving ACTIONS_PORT needs an endpoints file that says so.
RASA_PORT ?= 5005
ACTIONS_PORT ?= 5055
CONSOLE_PORT ?= 5002
ENDPOINTS ?= endpoints.yml
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0
# The WeChat channel reads these through credentials.yml; Rasa refuses an
# unset variable there, so they default to empty (an empty token disables it).
export WECHAT_TOKEN ?=
export WECHAT_APPID ?=
export WECHAT_AES_KEY ?=
export WECHAT_ENCRYPT_MODE ?=
export WECHAT_APPSECRET ?=
export WECHAT_API_BASE ?= https://api.weixin.qq.com

NLU_DATA := $(wildcard data/*.yml)
KNOWLEDGE := $(wildcard data/knowledge/*.yml)
SPACY_INPUTS := $(KNOWLEDGE) bot/rasa/nlu/spacy_pipeline.py bot/domain/normalise.py bot/domain/masking.py scripts/build_spacy_model.py

.PHONY: help run run-cluster test lint unit validate evaluate test-stories test-cluster services ocr-libs bench bench-receipts bench-purge clean

help:
	@echo "make run   - set up, train if needed, start the action server (5055) and Rasa (5005)"
	@echo "make run-cluster - the same as a cluster: PostgreSQL, Redis, 2 Rasa + 2 action replicas behind nginx (8080)"
	@echo "make test  - set up, train if needed, run lint, unit tests, data validation, NLU evaluation, story tests"
	@echo "make bench - benchmark understanding, speed under load, memory and training against the stock Rasa bot"
	@echo "make bench-receipts - read the held-out receipt photos: per-field accuracy, speed, card numbers covered"
	@echo "make bench-purge - the retention purge on 100,000 cases (SQLite and PostgreSQL) beside a writer"

$(INSTALLED): requirements.lock pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.10 not found: install it (e.g. 'pyenv install 3.10') or run 'make PYTHON=/path/to/python3.10 ...'"; exit 1; fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==24.0
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The widget's socket.io client, pinned in package-lock.json and served by the bot.
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Headless Chromium for the browser tests, from Debian (installed when root).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else echo "Chromium is missing: install Debian's 'chromium' package (as root: apt-get install chromium)"; exit 1; fi

# PostgreSQL, Redis and nginx for cluster mode and the tests of its stores:
# programs already installed are used as they are, missing ones come from
# Debian (when root).
services:
	@missing=""; \
	command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || missing="$$missing nginx"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Missing:$$missing. Install the Debian packages (as root: apt-get install$$missing)"; exit 1; fi

# The shared libraries OpenCV (under the receipt reader) loads: from Debian (when root).
ocr-libs:
	@missing=""; \
	ldconfig -p | grep -q 'libGL.so.1 ' || missing="$$missing libgl1"; \
	ldconfig -p | grep -q 'libgthread-2.0.so.0 ' || missing="$$missing libglib2.0-0"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Missing:$$missing. Install the Debian packages (as root: apt-get install$$missing)"; exit 1; fi

$(SPACY_MODEL): $(INSTALLED) $(SPACY_INPUTS)
	rm -rf models/spacy_zh
	$(BIN)/python scripts/build_spacy_model.py models/spacy_zh

# Retrain only when the training data, config, domain or NLU pipeline changed.
$(RASA_MODEL): $(SPACY_MODEL) $(NLU_DATA) config.yml domain.yml bot/rasa/nlu/rasa_components.py
	$(RASA) train --fixed-model-name wushua --out models --quiet
	touch $@

run: $(RASA_MODEL) $(NODE_INSTALLED) ocr-libs
	@mkdir -p var
	@echo "Web chat demo:  http://localhost:$(RASA_PORT)/webhooks/widget/demo"
	@echo "REST channel:   http://localhost:$(RASA_PORT)/webhooks/rest/webhook"
	@echo "Action server:  http://localhost:$(ACTIONS_PORT)"
	@echo "Staff console:  http://localhost:$(CONSOLE_PORT)  (create an account first: $(BIN)/python -m bot.console users add NAME --role admin)"
	@# Stop the servers, wait for them and end quietly. Inside the trap the shell ignores
	@# further signals: a 'kill 0' there re-entered it until bash crashed, and make's own
	@# SIGTERM to it, arriving late, killed it ("make: *** [run] Terminated").
	@trap 'trap "" INT TERM; trap - EXIT; kill $$(jobs -p) 2>/dev/null; wait; exit 0' EXIT INT TERM; \
	RASA_URL=http://127.0.0.1:$(RASA_PORT) $(BIN)/rasa run actions --port $(ACTIONS_PORT) & \
	RASA_URL=http://127.0.0.1:$(RASA_PORT) $(BIN)/python -m bot.console serve --port $(CONSOLE_PORT) & \
	$(RASA) run --model $(RASA_MODEL) --port $(RASA_PORT) --credentials credentials.yml --endpoints $(ENDPOINTS) & \
	wait

# CLUSTER_ARGS passes options, e.g. CLUSTER_ARGS='--port 9000 --rasa-replicas 3'.
run-cluster: $(RASA_MODEL) $(NODE_INSTALLED) services ocr-libs
	$(BIN)/python -m scripts.cluster run $(CLUSTER_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check bot actions tests scripts bench
	$(BIN)/ruff format --check bot actions tests scripts bench

unit: $(RASA_MODEL) $(NODE_INSTALLED) $(CHROMIUM) services ocr-libs
	$(BIN)/python -m pytest -q

# The fault test prints its counts (-s) into the log.
test-cluster: $(RASA_MODEL) $(NODE_INSTALLED) services ocr-libs
	$(BIN)/python -m pytest -q -s -m cluster tests/cluster

validate: $(INSTALLED)
	$(BIN)/python scripts/validate_data.py

evaluate: $(RASA_MODEL)
	$(BIN)/python scripts/evaluate_nlu.py --model $(RASA_MODEL) --data tests/nlu/heldout.yml --report var/nlu_report.json
	$(BIN)/python scripts/evaluate_nlu.py --model $(RASA_MODEL) --data tests/nlu/heldout_new.yml --report var/nlu_report_new.json --intents-only

test-stories: $(RASA_MODEL)
	$(RASA) test core --model $(RASA_MODEL) --stories tests/stories --fail-on-prediction-errors --out var/core_results

test: lint unit validate evaluate test-stories test-cluster

# Not part of `make test`: minutes of load and trainings, and speed is not a
# pass/fail matter (a smoke run in the unit tests keeps the harness working).
# BENCH_ARGS passes options, e.g. BENCH_ARGS='--note "what changed"'.
bench: $(RASA_MODEL) services ocr-libs
	$(BIN)/python -m bench.run --cv $(BENCH_ARGS)

# Receipt photos (bench/receipts.py) on the held-out set: per-field accuracy, seconds per image and
# for one 12 MP photo, full card numbers covered; the report goes to bench/results/<timestamp>-receipts/.
bench-receipts: $(INSTALLED) ocr-libs
	$(BIN)/python -m bench.receipts --heldout

# The retention purge (bench/purge.py): dry run and real run agree, a concurrent writer waits < 1 s.
bench-purge: $(INSTALLED) services
	$(BIN)/python -m bench.purge --postgres

clean:
	rm -rf models/spacy_zh $(RASA_MODEL) var/nlu_report.json var/core_results
