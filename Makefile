# FireWatch — build, test, run. `make test` installs what it needs on a fresh Debian machine.
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := libmodbus-dev mbpoll faketime prometheus systemd etcd-server etcd-client chromium prometheus-alertmanager

.PHONY: build test deps clean demo demo-standby run

# Install libmodbus-dev (and mbpoll, used by the interop tests, faketime, whose libfaketime the clock-step
# fault test preloads, prometheus for promtool, which tests the shipped alert rules, and systemd for
# systemd-analyze, which verifies the unit file, etcd-server/etcd-client, whose members the hot-standby
# tests start on loopback ports, chromium, the headless browser the annunciator page's test renders the page in, and
# prometheus-alertmanager, the real Alertmanager the alertmanager channel's test posts to on a loopback port)
# when missing. Tests that need them fail when they are absent.
deps:
	@missing=""; \
	pkg-config --exists libmodbus 2>/dev/null || missing="$$missing libmodbus-dev"; \
	command -v mbpoll >/dev/null 2>&1 || missing="$$missing mbpoll"; \
	ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing="$$missing faketime"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	command -v etcd >/dev/null 2>&1 || missing="$$missing etcd-server"; \
	command -v etcdctl >/dev/null 2>&1 || missing="$$missing etcd-client"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	command -v pkg-config >/dev/null 2>&1 || missing="pkg-config $$missing"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

# The descriptor-leak check of ModbusTests.ClientErrorTests counts the whole process's descriptors, so it
# runs with nothing beside it.
# Whole-site scenario runs (simulator + daemon on a compressed clock) are judged on site time, and the fault
# tests run a simulator and a daemon as real processes for a minute each, so they run after the other suites and
# one at a time: two cores shared with a parallel test run would stall them. The fault campaign's test keeps both
# cores busy on its own (two jobs), so it runs there too. The hot-standby suites run real etcd members whose
# leases last 2 s: a starved member or gateway would lapse them, so they run there as well. So does the annunciator
# page's browser test: headless Chromium beside a daemon takes both cores for a few seconds. So does the real
# Alertmanager's test (an Alertmanager, a daemon restarted once, and their loopback traffic).
SCENARIO_SUITES := SimulatorTests\.(ScenarioDaemonTests|TwoProcessTests|CampaignTests)|GatewayTests\.(FaultTests|EtcdClientTests|LeaseElectionTests|SharedProgressTests|PairProcessTests|AnnunciatorBrowserTests|AlertmanagerServerTests)|ModbusTests\.(ClientErrorTests|ModbusTapTests)

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip '$(SCENARIO_SUITES)'
	$(SWIFT) test --skip-build --no-parallel --filter '$(SCENARIO_SUITES)'

clean:
	rm -rf .build

# One command, nothing to set up: simulator + daemon + live alert view on examples/site.yaml, then a summary.
# `make demo KEEP=1` keeps it running after the summary (`firewatch demo --keep`: status, alerts -f, the annunciator
# page, whose address it prints); `DEMO_ARGS` passes anything else (e.g. DEMO_ARGS="--scenario quiet-day").
demo: deps
	$(SWIFT) build
	.build/debug/firewatch demo $(if $(KEEP),--keep) $(DEMO_ARGS)

# The hot-standby pair (README "Hot-standby pair"): etcd, the simulator and two daemons; the owner is killed mid-fire.
demo-standby: deps
	$(SWIFT) build
	.build/debug/firewatch demo --scenario gateway-failover

# The daemon on examples/site.yaml against a simulator of it (real time). Ctrl-C stops both.
run: deps
	$(SWIFT) build
	@.build/debug/firewatch simulate --config examples/site.yaml & sim=$$!; \
	trap 'kill $$sim 2>/dev/null; wait $$sim 2>/dev/null' EXIT INT TERM; \
	sleep 1; .build/debug/firewatch run --config examples/site.yaml

# Benchmarks (Benchmarks/README.md): a separate package, release build, its own scratch path; never part of `test`.
.PHONY: bench
BENCH_SCRATCH := .build-bench
BENCH_WORK := Benchmarks/.work
BENCH_PYMODBUS := pymodbus==3.16.1
BENCH_REPS ?= 5
BENCH_SECONDS ?= 2
bench: deps
	$(SWIFT) build -c release --package-path Benchmarks --scratch-path $(BENCH_SCRATCH) --product fw-bench
	$(SWIFT) build -c release --package-path Benchmarks --scratch-path $(BENCH_SCRATCH) --product firewatch
	mkdir -p $(BENCH_WORK)
	gcc -O2 -o $(BENCH_WORK)/poll_loop Benchmarks/C/poll_loop.c $$(pkg-config --cflags --libs libmodbus)
	[ -x $(BENCH_WORK)/venv/bin/python ] || python3 -m venv $(BENCH_WORK)/venv
	$(BENCH_WORK)/venv/bin/pip install -q --disable-pip-version-check '$(BENCH_PYMODBUS)'
	$(BENCH_SCRATCH)/release/fw-bench all --work $(BENCH_WORK) --reps $(BENCH_REPS) --seconds $(BENCH_SECONDS) \
	  --c-client $(BENCH_WORK)/poll_loop --python $(BENCH_WORK)/venv/bin/python \
	  --py-client Benchmarks/Python/poll_loop.py --firewatch $(BENCH_SCRATCH)/release/firewatch \
	  --command 'make bench' --out Benchmarks/results.md
