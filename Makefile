# Estiba's entry points. `make run` starts a first container, `make test` runs the suite.
VENV := .venv
PYTHON := $(VENV)/bin/python
RUNTIME := $(VENV)/bin/estiba-runtime

.PHONY: install run test lint bench

install:
	@bash scripts/install.sh

# The daemon, started when nothing answers on its Docker API socket (it stays, as dockerd
# does; its log is $(EXEC_ROOT)/estibad.log), then a first container of the offline
# busybox image, run through it with the docker-compatible CLI and removed.
EXEC_ROOT := /run/estiba
ESTIBA := $(VENV)/bin/estiba -H unix://$(EXEC_ROOT)/estiba.sock
run: install
	@set -e; \
	if ! $(ESTIBA) version >/dev/null 2>&1; then \
	  mkdir -p -m 0711 $(EXEC_ROOT); \
	  setsid $(VENV)/bin/estibad </dev/null >>$(EXEC_ROOT)/estibad.log 2>&1 & \
	  for i in $$(seq 100); do $(ESTIBA) version >/dev/null 2>&1 && break; sleep 0.1; done; \
	  $(ESTIBA) version >/dev/null || { tail -20 $(EXEC_ROOT)/estibad.log; exit 1; }; \
	  echo "estibad started (log: $(EXEC_ROOT)/estibad.log)"; \
	fi; \
	$(ESTIBA) run --rm --name hello-$$$$ busybox sh -c 'echo hello from estiba; hostname; ps'

# ruff first and the tests whatever it says, so that the run ends with pytest's summary;
# either failing fails the target.
test: install
	@status=0; $(VENV)/bin/ruff check src tests || status=1; \
	$(PYTHON) -m pytest -q tests || status=$$?; \
	exit $$status

lint: install
	$(VENV)/bin/ruff check src tests

bench: install
	@if [ -x bench/runtime_latency ]; then bench/runtime_latency; \
	elif [ -f bench/runtime_latency.py ]; then $(PYTHON) bench/runtime_latency.py; \
	else echo "make bench: bench/runtime_latency is not there yet"; fi
