# pitemp: top-level, non-recursive Makefile.
#
#   make            build build/bin/pitemp-sensor and build/bin/pitemp-sink
#   make check      install missing packages, build, run every test
#   make demo       install missing packages, build, run broker + sensor + sink,
#                   leave readings.txt with 100 readings
#   make deps       apt-get install what is missing (sudo when not root)
#   make install    PREFIX=/usr/local DESTDIR=
#   make bench      benchmarks against mosquitto_pub/mosquitto_sub (bench/)
#   make bench-fleet  how many sensors one broker + one sink hold (bench/)
#   make plot       FILE=readings.txt [PNG=...]: temperature against time (plot/)
#   make capture    tshark captures of every transport + report (root)
#   make docker-test  the docker compose rig
#   make clean
#
# B is the build directory; the sanitizer pass of `make check` reuses every
# rule with B=build/asan SAN=1.

include config.mk

B    ?= build
SAN  ?=
ifeq ($(SAN),1)
CFLAGS  += $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
endif

LIB_SRC    := $(sort $(wildcard lib/*.c))
SENSOR_SRC := $(sort $(filter-out sensor/main.c,$(wildcard sensor/*.c)))
SINK_SRC   := $(sort $(filter-out sink/main.c,$(wildcard sink/*.c)))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
# What several unit tests share (a listener rig, fixtures): one archive.
UNIT_SUPPORT_SRC := $(sort $(wildcard tests/unit/support/*.c))
BENCH_SRC  := $(sort $(wildcard bench/pitemp-bench/*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIBPT     := $(B)/lib/libpitemp.a
LIBSENSOR := $(B)/lib/libsensor.a
LIBSINK   := $(B)/lib/libsink.a
LIBTESTSUPPORT := $(B)/lib/libtestsupport.a
BINS      := $(B)/bin/pitemp-sensor $(B)/bin/pitemp-sink
# pitemp-bench (bench/pitemp-bench/): N simulated sensors in one process, for
# bench/fleet.py and the fleet test. Built with the programs, not installed.
BENCH_BIN := $(B)/bin/pitemp-bench
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/test/%,$(UNIT_SRC))

.PHONY: all programs check demo deps install clean unit unit-bins integration fuzz-replay asan
.DEFAULT_GOAL := all

all: $(BINS) $(BENCH_BIN)

# The two programs alone (the docker images build these: no bench/ there).
programs: $(BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBPT): $(call obj,$(LIB_SRC))
$(LIBSENSOR): $(call obj,$(SENSOR_SRC))
$(LIBSINK): $(call obj,$(SINK_SRC))
$(LIBTESTSUPPORT): $(call obj,$(UNIT_SUPPORT_SRC))
$(LIBPT) $(LIBSENSOR) $(LIBSINK) $(LIBTESTSUPPORT):
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/bin/pitemp-sensor: $(call obj,sensor/main.c) $(LIBSENSOR) $(LIBPT)
$(B)/bin/pitemp-sink: $(call obj,sink/main.c) $(LIBSINK) $(LIBPT)
# The bench reuses the sensor's sim source and the sink's latency histogram.
$(BENCH_BIN): $(call obj,$(BENCH_SRC)) $(LIBSINK) $(LIBSENSOR) $(LIBPT)
$(BINS) $(BENCH_BIN):
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/bin/pitemp-sink $(UNIT_BINS): LDLIBS += $(DB_LIBS)

# Unit tests (cmocka): one binary per tests/unit/test_*.c, linked against
# every module library so a test can reach any module it exercises, and
# the tests' shared support (tests/unit/support/).
$(B)/test/%: $(B)/obj/tests/unit/%.o $(LIBTESTSUPPORT) $(LIBSINK) $(LIBSENSOR) $(LIBPT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

unit-bins: $(UNIT_BINS)
unit: unit-bins
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
	  PITEMP_SRCDIR=$(CURDIR) $$t; done

# Integration tests: real mosquitto, real programs, real files (pytest).
# They run TEST_JOBS at a time (pytest-xdist), a whole file per worker so a
# file's module fixtures (one PostgreSQL server, one capture run) stay in
# one process: most of their time is waiting (outages, link cuts, 100 Hz
# streams), not CPU, so 4 at once take a third of the time on 2 cores.
# TEST_JOBS=0 runs them one at a time in this process.
TEST_JOBS ?= 4
integration: $(BINS) $(BENCH_BIN)
	PITEMP_BUILD=$(abspath $(B)) $(PYTHON) -m pytest -q -p no:cacheprovider \
	  $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile) \
	  tests/integration $(PYTEST_ARGS)

# The fuzz targets, built with libFuzzer; in the normal run they only replay
# their seed corpora (and the payload decoder the JSON test-suite corpus):
# no time-bound fuzzing in CI. Each links only the files it tests (the rest
# of lib/ needs paho).
#   payload: the payload decoder and validator
#   framing: socket mode's line framing and acknowledgement lines
#   config:  --config files and the option checks
FUZZ_NAMES      := payload framing config
FUZZ_SRC_payload := lib/codec.c lib/validate.c lib/utf8.c lib/time.c lib/fmt.c
FUZZ_LIBS_payload := $(CJSON_LIBS)
FUZZ_SRC_framing := lib/linebuf.c lib/ack.c
FUZZ_SRC_config  := lib/opts.c lib/opts_config.c lib/opts_help.c lib/opts_scale.c \
  lib/optcheck.c \
  lib/topic.c lib/hosts.c lib/utf8.c
FUZZ_BINS := $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_NAMES))
define fuzz_rule
$(B)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $$(FUZZ_SRC_$(1)) $$(wildcard lib/pt_*.h)
	@mkdir -p $$(@D)
	clang $$(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined \
	  -o $$@ $$(filter %.c,$$^) $$(FUZZ_LIBS_$(1)) -lm
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call fuzz_rule,$(f))))
fuzz-replay: $(FUZZ_BINS)
	$(B)/fuzz/fuzz_payload -runs=0 tests/fuzz/corpus tests/corpora/JSONTestSuite/test_parsing
	$(B)/fuzz/fuzz_framing -runs=0 tests/fuzz/corpus-framing
	$(B)/fuzz/fuzz_config -runs=0 tests/fuzz/corpus-config

# The sanitizer pass leaves out the tests marked slow (200k readings, the
# 30 s link cut): they exercise timing, not memory, and would double the run.
asan:
	$(MAKE) -j$(BUILD_JOBS) B=build/asan SAN=1 all unit-bins
	$(MAKE) B=build/asan SAN=1 PYTEST_ARGS='-m "not slow"' unit integration

# make check builds with one job per CPU (the build is most of its CPU time).
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check: deps
	$(MAKE) -j$(BUILD_JOBS) all unit-bins $(FUZZ_BINS)
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) integration
	$(MAKE) asan
	$(MAKE) docker-test
	@if [ -f build/docker-test/SKIPPED ]; then \
	  echo "make check: passed, docker-test SKIPPED: $$(cat build/docker-test/SKIPPED)"; \
	else echo "make check: all passed"; fi

# Every Debian package the build, the demo and the tests need (nats-server:
# tests/integration/test_cluster.py; groff-base:
# tests/integration/test_docs.py renders the man pages; logrotate:
# test_output_faults.py runs the shipped /etc/logrotate.d/pitemp-sink).
DEB_PACKAGES := build-essential pkg-config clang libclang-rt-14-dev \
  libpaho-mqtt-dev libcjson-dev libgpiod-dev libcmocka-dev \
  mosquitto mosquitto-clients python3 python3-pytest python3-jsonschema \
  python3-paho-mqtt python3-pytest-xdist libssl-dev openssl tshark systemd iproute2 iptables gnuplot-nox \
  groff-base libsqlite3-dev sqlite3 nats-server netcat-openbsd \
  libpq-dev postgresql logrotate
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

demo: deps all
	@sh tests/rig/demo.sh $(B)

# Programs to BINDIR, man pages to MANDIR/man1, systemd units to UNITDIR
# (@BINDIR@/@SYSCONFDIR@ filled in), configs (ours and the broker's) to
# SYSCONFDIR/pitemp, broker helper scripts to PREFIX/share/pitemp, README
# and docs/ to PREFIX/share/doc/pitemp. A config already installed and
# edited is kept: the new one goes next to it as FILE.new.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(SYSCONFDIR)/pitemp $(DESTDIR)$(PREFIX)/share/pitemp \
	  $(DESTDIR)$(PREFIX)/share/doc/pitemp/docs
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	@set -e; for u in sensor/pitemp-sensor.service sink/pitemp-sink.service; do \
	  d=$(DESTDIR)$(UNITDIR)/$${u##*/}; echo "sed $$u > $$d"; \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    $$u > $$d.tmp; chmod 0644 $$d.tmp; mv -f $$d.tmp $$d; \
	done
	@set -e; for f in sensor/sensor.conf sink/sink.conf \
	  $(wildcard broker-config/*.conf broker-config/acl); do \
	  d=$(DESTDIR)$(SYSCONFDIR)/pitemp/$${f##*/}; \
	  if [ -e "$$d" ] && ! cmp -s "$$f" "$$d"; then \
	    install -m 0644 "$$f" "$$d.new"; \
	    echo "make install: kept the edited $$d; the new one is $$d.new"; \
	  else \
	    echo "install $$f $$d"; install -m 0644 "$$f" "$$d"; \
	  fi; \
	done
	@# logrotate reads every file in logrotate.d (FILE.new too): an edited one
	@# is kept and the new one goes beside it as .dpkg-dist, which it skips.
	@set -e; f=sink/pitemp-sink.logrotate; d=$(DESTDIR)$(SYSCONFDIR)/logrotate.d/pitemp-sink; \
	install -d $(DESTDIR)$(SYSCONFDIR)/logrotate.d; \
	if [ -e "$$d" ] && ! cmp -s "$$f" "$$d"; then \
	  install -m 0644 "$$f" "$$d.dpkg-dist"; \
	  echo "make install: kept the edited $$d; the new one is $$d.dpkg-dist"; \
	else \
	  echo "install $$f $$d"; install -m 0644 "$$f" "$$d"; \
	fi
	$(if $(wildcard broker-config/*.sh),install -m 0755 $(wildcard broker-config/*.sh) $(DESTDIR)$(PREFIX)/share/pitemp/)
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/pitemp/
	install -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(PREFIX)/share/doc/pitemp/docs/

clean:
	rm -rf build

# --- Benchmarks --------------------------------------------------------------
# `make bench`: bench/pacing.py (100 Hz timestamp precision) and
# bench/throughput.py (pitemp-sensor/-sink against mosquitto_pub/_sub, same
# broker, same run). They print figures and assert nothing; not part of
# `make check`. Recorded results and knobs: bench/README.md.
.PHONY: bench profile
bench: all
	PITEMP_BUILD=$(abspath $(B)) $(PYTHON) bench/pacing.py
	PITEMP_BUILD=$(abspath $(B)) $(PYTHON) bench/throughput.py

# `make profile`: bench/profile.py, the instructions each program spends per
# reading next to mosquitto's clients (valgrind's callgrind: repeatable on a
# busy machine) and where they go. Installs valgrind when it is missing.
profile: all
	@command -v valgrind >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q valgrind; }
	PITEMP_BUILD=$(abspath $(B)) $(PYTHON) bench/profile.py

# `make bench-fleet`: how many sensors one mosquitto and one pitemp-sink hold
# (bench/fleet.py): the generator's own ceiling, then pitemp-bench at 100 Hz
# for N = 10 .. 2000 at QoS 0 and 1, the sink's file checked per device;
# writes bench/results/fleet.md, fleet.png and fleet.json. 3-4 minutes here,
# at most about an hour (bench/README.md). Not part of `make check`.
.PHONY: bench-fleet
bench-fleet: all
	PITEMP_BUILD=$(abspath $(B)) $(PYTHON) bench/fleet.py

# --- Plot (issue #16) -------------------------------------------------------
# `make plot FILE=readings.csv [PNG=out.png]`: a pitemp-sink output file of
# any format (text, csv, jsonl, sqlite) to a PNG of temperature against time, one
# colour per device, with the 1 s means the summary stream publishes
# (plot/plot.py, plot/temperature.gp; gnuplot from `make deps`).
FILE ?= readings.txt
PNG  ?= $(B)/plot/$(basename $(notdir $(FILE))).png
.PHONY: plot
plot:
	@$(PYTHON) plot/plot.py $(if $(TITLE),--title "$(TITLE)") "$(FILE)" "$(PNG)"

# --- Capture and compare (issue #6) -----------------------------------------
# `make capture` (root): the lab's Task 2 in one command. A two-host rig in
# network namespaces (sensor host, server host, one veth pair), tshark on the
# server's veth, one run of CAPTURE_N readings per transport (plain socket,
# MQTT QoS 0, MQTT QoS 1, MQTT over TLS), then build/capture/*.pcapng,
# report.md and report.png; see docs/capture.md and capture/capture.py.
CAPTURE_N ?= 100
.PHONY: capture
capture:
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "make capture: must be run as root (it creates network namespaces and captures with tshark): sudo make capture" >&2; \
	  exit 1; fi
	@$(MAKE) --no-print-directory deps all
	$(PYTHON) capture/capture.py --build $(B) --count $(CAPTURE_N)

# --- Docker test rig (issue #8) ---------------------------------------------
# `make docker-test`: build the images (debian:bookworm-slim debootstrapped
# locally when the engine lacks it), run broker + sensor + sink + spot
# checker with docker-compose on an internal network, and check the sink's
# 100 readings; see docker/README.md and docker/test.sh. test.sh exits 77
# when no container engine can run on this machine (not root and no sudo,
# or dockerd cannot start): it prints "docker-test: SKIPPED: <reason>" (also
# left in build/docker-test/SKIPPED) and the target goes on; never a pass.
.PHONY: docker-test
docker-test:
	@sh docker/test.sh; rc=$$?; \
	if [ $$rc -eq 77 ] && [ -f build/docker-test/SKIPPED ]; then exit 0; fi; \
	exit $$rc

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
.SECONDARY:
