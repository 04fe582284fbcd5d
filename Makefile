# FireWatch — build, test, run. `make test` installs what it needs on a fresh Debian machine.
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := libmodbus-dev mbpoll

.PHONY: build test deps clean demo run

# Install libmodbus-dev (and mbpoll, used by the interop tests) when missing.
deps:
	@missing=""; \
	pkg-config --exists libmodbus 2>/dev/null || missing="$$missing libmodbus-dev"; \
	command -v mbpoll >/dev/null 2>&1 || missing="$$missing mbpoll"; \
	command -v pkg-config >/dev/null 2>&1 || missing="pkg-config $$missing"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

# Whole-site scenario runs (simulator + daemon on a compressed clock) are judged on site time, so they run
# after the other suites and one at a time: two cores shared with a parallel test run would stall them.
SCENARIO_SUITES := SimulatorTests\.(ScenarioDaemonTests|TwoProcessTests)

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip '$(SCENARIO_SUITES)'
	$(SWIFT) test --skip-build --no-parallel --filter '$(SCENARIO_SUITES)'

clean:
	rm -rf .build

# One command, nothing to set up: simulator + daemon + live alert view on examples/site.yaml, then a summary.
demo: deps
	$(SWIFT) build
	.build/debug/firewatch demo

# The daemon on examples/site.yaml against a simulator of it (real time). Ctrl-C stops both.
run: deps
	$(SWIFT) build
	@.build/debug/firewatch simulate --config examples/site.yaml & sim=$$!; \
	trap 'kill $$sim 2>/dev/null; wait $$sim 2>/dev/null' EXIT INT TERM; \
	sleep 1; .build/debug/firewatch run --config examples/site.yaml
