# Estiba's entry points. `make run` starts a first container, `make test` runs the suite.
VENV := .venv
PYTHON := $(VENV)/bin/python
RUNTIME := $(VENV)/bin/estiba-runtime

.PHONY: install run test lint bench

install:
	@bash scripts/install.sh

# The daemon, started when nothing answers on its core socket (it stays, as dockerd
# does; its log is $(EXEC_ROOT)/estibad.log), then a first container of the offline
# busybox image, run through it and removed: `estiba ctr run --rm`.
EXEC_ROOT := /run/estiba
CORE_SOCKET := $(EXEC_ROOT)/core.sock
CTR := $(VENV)/bin/estiba ctr -a $(CORE_SOCKET)
run: install
	@set -e; \
	if ! $(CTR) version >/dev/null 2>&1; then \
	  mkdir -p -m 0711 $(EXEC_ROOT); \
	  setsid $(VENV)/bin/estibad --core-address $(CORE_SOCKET) </dev/null \
	    >>$(EXEC_ROOT)/estibad.log 2>&1 & \
	  for i in $$(seq 100); do $(CTR) version >/dev/null 2>&1 && break; sleep 0.1; done; \
	  $(CTR) version >/dev/null || { tail -20 $(EXEC_ROOT)/estibad.log; exit 1; }; \
	  echo "estibad started (log: $(EXEC_ROOT)/estibad.log)"; \
	fi; \
	$(CTR) run --rm busybox hello-$$$$ sh -c 'echo hello from estiba; hostname; ps'

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
