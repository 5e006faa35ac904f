# The two commands: `make demo` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-data
# On a Raspberry Pi the venv also sees Debian's python3-lgpio, gpiozero's pin driver there,
# and picamera2; pip then keeps Debian's numpy, which those are built for (scripts/install too).
VENV_FLAGS := $(shell grep -qs "Raspberry Pi" /proc/device-tree/model && echo --system-site-packages)
PIP_CONSTRAINTS := $(if $(VENV_FLAGS),--constraint scripts/constraints-system-site.txt)

.PHONY: demo test lint bench proofs platform clean install words

demo: $(VENV)/.installed
	$(BIN)/shelf demo --dir $(DEMO_DIR)

# On the Pi, as root: the services, the gate screen, the configuration (systemd/README.md).
install:
	scripts/install

# Most tests wait (for a subprocess, a poll, a browser) rather than compute: four workers
# on two cores halve the wall time. TEST_WORKERS=0 runs them in this process, one by one.
TEST_WORKERS ?= 4

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Not part of `make test`: each takes minutes. See "Benchmarks and proofs" in the README.
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

proofs: $(VENV)/.installed-test
	$(BIN)/python -m bench.proofs

# The Pi's platform without a Pi (README, "Deploying on a Raspberry Pi"): Debian Bookworm
# booted with systemd-nspawn, and arm64 under qemu-user. As root, with debootstrap,
# systemd-container and qemu-user-static installed; the host's own Python is enough.
platform:
	$(PYTHON) -m bench.platform

# The words' catalogue (kiosk/locale): carry each .pot's English into each .po (new keys empty,
# changed English fuzzy), then check that all is translated and every key used exists.
words: $(VENV)/.installed
	$(BIN)/python scripts/words update

# ruff, and the layering contract in pyproject.toml: the core imports no web, hardware or
# their libraries; the web never imports the hardware.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check kiosk hardware web tests bench scripts/words
	$(BIN)/lint-imports --no-cache

$(VENV)/.installed: pyproject.toml scripts/setup-system scripts/constraints-system-site.txt
	scripts/setup-system
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_CONSTRAINTS) -e '.[demo]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	scripts/setup-system --test
	$(BIN)/python -m pip install --quiet $(PIP_CONSTRAINTS) -e '.[demo,test]'
	touch $@

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info
