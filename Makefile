# fedshare: the two commands a newcomer runs on a fresh Debian machine.
#
#   make demo   install what is missing, build, run the demo
#   make test   the same set-up, then every test: C (plain and ASan/UBSan),
#               bounded fuzzing, SPIN models (docs/formal.md), Python, integration
#
# Other targets: deps, venv, build, build-asan, python, bench, format,
# format-check, lint-python (ruff + mypy), clean, test-repeat (RUNS=20
# PY_RUNS=0: the suites again and again with every core busy; contributing.md).
# Everything lands in this folder (.venv/, build*/).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

DEBS := build-essential libgmp-dev libsodium-dev liblmdb-dev libcmocka-dev meson \
        ninja-build pkg-config clang libclang-rt-14-dev clang-format python3-dev \
        python3-venv git chromium chromium-driver lmdb-utils spin libz3-dev
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
MESON := $(VENV)/bin/meson
BUILD := build
ASAN := build-asan
PYBUILD := build-py
FUZZ_SECONDS ?= 10
JOBS ?= $(shell nproc)
STAMP := .stamp

# Root installs directly; anyone else goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help demo test deps venv build build-asan python test-c test-asan test-python \
        test-repeat bench format format-check lint-python clean

help:
	@sed -n '2,11p' Makefile | sed 's/^# \{0,1\}//'

# In a terminal the demo ends with the web console on its nodes, until Ctrl-C.
demo: python
	$(VENV)/bin/fedshare demo $$(test -t 0 && echo --console || true)

test: format-check lint-python test-c test-asan test-python
	@echo "make test: every suite passed"

# --- set-up -------------------------------------------------------------

deps: $(STAMP)/deps
$(STAMP)/deps: Makefile
	@missing=$$(for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "Debian packages: all present"; fi
	@mkdir -p $(STAMP) && touch $@

venv: $(STAMP)/venv
$(STAMP)/venv: requirements-dev.txt $(STAMP)/deps
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements-dev.txt
	@mkdir -p $(STAMP) && touch $@

# --- builds -------------------------------------------------------------

# Release build with -Werror: C libraries, tests, benchmarks.
build: venv
	@[ -f $(BUILD)/build.ninja ] || $(MESON) setup $(BUILD) -Dwerror=true -Dpython=disabled
	$(MESON) compile -C $(BUILD) -j $(JOBS)

# clang build with AddressSanitizer + UBSan (no recovery) and libFuzzer harnesses.
build-asan: venv
	@[ -f $(ASAN)/build.ninja ] || CC=clang CXX=clang++ $(MESON) setup $(ASAN) \
	  -Dwerror=true -Dpython=disabled -Dbenchmarks=false -Dfuzz=true \
	  -Dfuzz_seconds=$(FUZZ_SECONDS) -Dbuildtype=debugoptimized \
	  -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args=-fno-sanitize-recover=all -Dcpp_args=-fno-sanitize-recover=all
	$(MESON) compile -C $(ASAN) -j $(JOBS)

# The Python package as a user gets it (pip install .), into the venv.
python: venv
	$(VPY) -m pip install -q --no-build-isolation --no-deps --force-reinstall \
	  -Cbuild-dir=$(PYBUILD) .

# --- tests --------------------------------------------------------------

test-c: build
	$(MESON) test -C $(BUILD) --print-errorlogs --no-suite fuzz

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(MESON) test -C $(ASAN) --print-errorlogs --timeout-multiplier 4

test-python: python
	$(VPY) -m pytest -q tests/python

# Timing-dependent tests show up under load: RUNS runs of the C suite (and
# PY_RUNS of pytest) with a busy loop on every core; failures counted per test.
RUNS ?= 20
PY_RUNS ?= 0
test-repeat: build python
	$(VPY) tests/tools/test_repeat.py --build $(BUILD) --meson $(MESON) --python $(VPY) \
	  --c-runs $(RUNS) --py-runs $(PY_RUNS)

# --- the rest -----------------------------------------------------------

bench: build python
	benchmarks/run --suite all --json

C_SOURCES = $(shell git ls-files '*.c' '*.h' '*.cc' '*.cpp' 2>/dev/null)

format: $(STAMP)/deps
	clang-format -i $(C_SOURCES)

format-check: $(STAMP)/deps
	@if [ -n "$(strip $(C_SOURCES))" ]; then clang-format --dry-run --Werror $(C_SOURCES); fi
	@echo "format-check: C sources follow .clang-format"

# ruff and mypy with the settings in pyproject.toml ([tool.ruff], [tool.mypy]:
# the package at default strictness, its public API strict).
lint-python: venv
	$(VENV)/bin/ruff check bindings/python tests/python benchmarks tools
	$(VENV)/bin/mypy

clean:
	rm -rf $(BUILD) $(ASAN) $(PYBUILD) $(STAMP)
