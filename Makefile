# Estiba's entry points. `make run` starts a first container, `make test` runs the suite.
VENV := .venv
PYTHON := $(VENV)/bin/python
RUNTIME := $(VENV)/bin/estiba-runtime

.PHONY: install run test lint bench

install:
	@bash scripts/install.sh

# A busybox bundle in a temporary directory, run in the foreground without a terminal;
# the runtime's state (--root) sits beside it and everything goes when the run ends,
# down to the "estiba" cgroup parents the runtime leaves (rmdir: only when empty).
run: install
	@set -e; dir=$$(mktemp -d /tmp/estiba-run.XXXXXX); \
	trap 'rm -rf --one-file-system "$$dir"; \
	      rmdir /sys/fs/cgroup/estiba /sys/fs/cgroup/*/estiba 2>/dev/null || true' EXIT; \
	bash scripts/make-bundle "$$dir/bundle"; \
	$(RUNTIME) --root "$$dir/state" run --bundle "$$dir/bundle" hello-$$$$

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
