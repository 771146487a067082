# Two commands: `make demo` and `make test`. Both do all the set-up they need (see docs/testbed.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv is re-installed when the content of what it installs changes, not when a checkout touches a file:
# the stamp's name carries a hash of those files' content.
REQUIREMENTS := requirements-dev.txt platform/pyproject.toml
STAMP := $(VENV)/.installed-$(shell cat $(REQUIREMENTS) | sha256sum | cut -c1-16)
# Extra pytest arguments, e.g. make test PYTEST_ARGS="tests/test_testbed.py -x"
PYTEST_ARGS ?=
# Three workers on the 2-core machines: with two, cores idled while tests waited on containers, moto's Batch
# poller and the servers; with three the CPU stays ~95% busy and pytest took 736 s instead of 831 s
# (docs/testbed.md, "Measured").
# Tests are handed out one at a time, heaviest files first (tests/conftest.py, tests/testbed/ordering.py), so
# that no worker ends up running the long ones back to back.
XDIST := -n 3

.PHONY: demo test test-fast lint venv testbed clean

$(STAMP):
	@bash scripts/testbed/venv.sh "$(PYTHON)" "$(VENV)" "$@"

venv: $(STAMP)
	@:

# Debian packages (docker.io, docker-registry, debootstrap; node and npm if absent) and the base image's rootfs.
# Needs root; without it, one line says what cannot run and the tests that can run still do.
testbed:
	@bash scripts/testbed/setup.sh

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# The venv and the test bed are independent: set them up side by side (pip on one core, apt and debootstrap
# on the other). The servers (dockerd, registry, moto, mlflow) start lazily inside the pytest session.
# The platform is installed editable: where PYTHONDONTWRITEBYTECODE is set (as on the CI machines), every one of
# the suite's hundreds of Python processes would compile its modules again; compile them once (seconds).
test:
	@$(MAKE) --no-print-directory -j2 venv testbed
	@PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q platform/src tests >/dev/null
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not docker and not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check platform tests hooks benchmarks scripts

clean:
	rm -rf $(VENV) .branchline demo-output
