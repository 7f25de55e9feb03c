# Quiver build. One Makefile, no recursion. src/ is split into layers, each built as its own
# static library ($(BUILD)/lib<layer>.a) from every .c in its folder, compiled with include paths
# that only see the layers it may use, so a layering mistake is a compile error ("x.h: No such
# file"). New modules and new tests are picked up by wildcard, so adding a file never needs an
# edit here. The layers, bottom to top (README "Where the code lives"):
#
#   src/lib      containers, event loop, parser, pool, clocks, log     sees: lib
#   src/engine   vector indexes, snapshot and AOF formats               sees: lib engine
#   src/net      sockets (the connection layer)                         sees: lib net
#   src/core     server, clients, dispatch, keyspace, config, INFO      sees: all
#   src/cmd      command families                                       sees: all
#   src/persist  snapshots on disk, AOF, forked children               sees: all
#   src/repl     replication: master side, replica side, their config   sees: all
#   src/backup   S3 backups: SigV4, the S3 client, BGBACKUP, restore    sees: all
#
# core, cmd, persist and repl call each other (the server starts the AOF, the AOF replays
# commands, the networking layer feeds the replication stream), so they link as one group;
# lib, engine and net never see them.
#
#   make                 src/quiver-server (+ tools), -O2, jemalloc
#   make MALLOC=libc     same with libc malloc (build settings are tracked: this rebuilds)
#   make run             install the build deps, build and start the server on conf/quiver.conf
#   make test            install the build+test deps, build and run every suite (unit,
#                        integration, interop, fuzz smoke)
#   make sanitize        ASan+UBSan+LSan build (libc malloc) running the unit and integration tests
#   make tsan            ThreadSanitizer: engine unit tests, threaded suites on a TSan server
#   make fuzz            build the libFuzzer harnesses (clang) and run each briefly
#   make deps            install every missing dependency (as root): build, test and bench groups
#   make format-check    clang-format --dry-run over the tree

MALLOC ?= jemalloc
OPT ?= -O2
BUILD ?= build
CC ?= gcc

WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
# DEPFLAGS: every object, test and tool records the headers it read ($(BUILD)/deps/*.d), so
# touching one header rebuilds only what includes it.
CFLAGS_BASE := -std=gnu11 $(OPT) -g $(WARN) -pthread -D_GNU_SOURCE $(SAN_CFLAGS)
DEPFLAGS = -MMD -MP -MF $(BUILD)/deps/$(subst /,_,$@).d
LDLIBS_BASE := -lm -pthread -lcjson -lmsgpackc
# S3 backups (src/backup): libcurl for HTTP, mbedtls's crypto library for SHA-256/HMAC;
# TLS connections (src/net/tls.c): mbedtls's TLS and X.509 libraries too.
LDLIBS_BASE += -lcurl -lmbedtls -lmbedx509 -lmbedcrypto
LDFLAGS_BASE := $(SAN_LDFLAGS)

ifeq ($(MALLOC),jemalloc)
CFLAGS_BASE += -DUSE_JEMALLOC
LDLIBS_BASE += -ljemalloc
endif

CFLAGS := $(CFLAGS_BASE) $(EXTRA_CFLAGS)
LDLIBS := $(LDLIBS_BASE)

# ---- layers ----
LAYERS := lib engine net core cmd persist repl backup
# What each layer may include (and so link). A test or tool gets the union of these for the
# layers of the headers it includes.
SEES_lib := lib
SEES_engine := lib engine
SEES_net := lib net
SEES_core := $(LAYERS)
SEES_cmd := $(LAYERS)
SEES_persist := $(LAYERS)
SEES_repl := $(LAYERS)
SEES_backup := $(LAYERS)
# Link order, top first; the top four reference each other and go in one --start-group.
LINK_ORDER := backup repl persist cmd core net engine lib

layer_incs = $(foreach l,$(SEES_$(1)),-Isrc/$(l))
# A source left directly in src/ would be built by nobody: say where it should go.
ifneq ($(wildcard src/*.c src/*.h),)
$(error $(wildcard src/*.c src/*.h): outside the layer folders; move each into src/<layer>/ (README "Where the code lives"))
endif
# Programs whose main() lives in src/ (kept out of the libraries).
PROGRAM_MAINS := src/core/server_main.c
# Backends #included by their front end (ae.c includes ae_epoll.c), not compiled on their own.
INCLUDED_SRCS := src/lib/ae_epoll.c
LAYER_SRCS = $(filter-out $(PROGRAM_MAINS) $(INCLUDED_SRCS),$(wildcard src/$(1)/*.c))
LAYER_OBJS = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(call LAYER_SRCS,$(1)))
LAYER_LIB = $(BUILD)/lib$(1).a
ALL_LIBS := $(foreach l,$(LAYERS),$(call LAYER_LIB,$(l)))
ALL_OBJS := $(foreach l,$(LAYERS),$(call LAYER_OBJS,$(l)))

# The layers a test, fuzzer or tool needs, found from the headers it includes (no hand-kept
# module lists): each "x.h" names the folder that holds it; that folder's SEES list is taken.
header_layers = $(sort $(foreach h,$(shell sed -n 's/^[[:space:]]*\#[[:space:]]*include[[:space:]]*"\([^"/]*\.h\)".*/\1/p' $(1)),\
    $(patsubst src/%/,%,$(dir $(wildcard src/*/$(h))))))
uses_layers = $(sort $(foreach l,$(call header_layers,$(1)),$(SEES_$(l))))
uses_incs = $(foreach l,$(call uses_layers,$(1)),-Isrc/$(l))
uses_libs = $(foreach l,$(filter $(call uses_layers,$(1)),$(LINK_ORDER)),$(call LAYER_LIB,$(l)))
# The link line for those libraries (grouped, as the top layers reference each other).
link_libs = -Wl,--start-group $(1) -Wl,--end-group

# ---- build settings ----
# The effective settings go to $(BUILD)/build-flags, rewritten only when they change; every object
# and program depends on it, so `make` then `make MALLOC=libc` rebuilds with libc malloc.
BUILD_FLAGS_FILE := $(BUILD)/build-flags
BUILD_FLAGS_NOW := CC=$(CC) CFLAGS=$(CFLAGS) LDFLAGS=$(LDFLAGS_BASE) LDLIBS=$(LDLIBS) UNIT=$(UNIT_CFLAGS) $(UNIT_LIBS)
ifeq ($(filter clean format format-check deps check-deps,$(MAKECMDGOALS)),)
$(shell mkdir -p $(BUILD)/deps && (printf '%s\n' '$(BUILD_FLAGS_NOW)' | cmp -s - $(BUILD_FLAGS_FILE) || \
    printf '%s\n' '$(BUILD_FLAGS_NOW)' > $(BUILD_FLAGS_FILE)))
endif

# Programs go to src/ (as redis-server's do); sanitizer builds put theirs in their build dir so
# they never overwrite the normal binaries.
BINDIR ?= src
UTIL_SRCS := $(wildcard utils/*.c)
UTIL_BINS := $(patsubst utils/%.c,$(BINDIR)/%,$(UTIL_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
# The integration tests' helpers (harness.c, ...) are compiled once into one library.
INTEG_HELPERS := $(filter-out tests/integration/test_%.c,$(wildcard tests/integration/*.c))
INTEG_HELPER_OBJS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/obj/%.o,$(INTEG_HELPERS))
HARNESS_LIB := $(BUILD)/tests/integration/libharness.a
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

SERVER := $(BINDIR)/quiver-server

.PHONY: all run test test-unit test-integration test-interop sanitize tsan fuzz fuzz-build fuzz-lib deps \
        format format-check clean check-deps

all: $(SERVER) $(UTIL_BINS)

-include $(wildcard $(BUILD)/deps/*.d)

.SECONDEXPANSION:

# One rule for every layer: $* is "<layer>/<name>", its first word picks the include paths.
$(BUILD)/obj/%.o: src/%.c $(BUILD_FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(call layer_incs,$(firstword $(subst /, ,$*))) -c $< -o $@

$(BUILD)/tests/unit $(BUILD)/tests/integration $(BUILD)/fuzz:
	mkdir -p $@

define layer_lib_rule
$(call LAYER_LIB,$(1)): $(call LAYER_OBJS,$(1))
	rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_lib_rule,$(l))))

# -rdynamic: the crash report's backtrace names the server's functions (src/core/crash.c).
$(SERVER): $(BUILD)/obj/core/server_main.o $(ALL_LIBS) $(BUILD_FLAGS_FILE)
	$(CC) $(LDFLAGS_BASE) -rdynamic -o $@ $< $(call link_libs,$(filter $(ALL_LIBS),$^)) $(LDLIBS)

$(BINDIR)/%: utils/%.c $$(call uses_libs,utils/$$*.c) $(BUILD_FLAGS_FILE)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(call uses_incs,$<) $(LDFLAGS_BASE) -o $@ $< \
	    $(call link_libs,$(call uses_libs,$<)) $(LDLIBS) -lhiredis

# Unit tests link only the layers they test (those of the headers they include). They link
# criterion, except under `make tsan`, which swaps in the single-process stand-in
# tests/unit/tsan/criterion/criterion.h (criterion's runner cannot start under TSan).
UNIT_CFLAGS ?=
UNIT_LIBS ?= -lcriterion
$(BUILD)/tests/unit/%: tests/unit/%.c $$(call uses_libs,tests/unit/$$*.c) $(BUILD_FLAGS_FILE) | $(BUILD)/tests/unit
	$(CC) $(UNIT_CFLAGS) $(CFLAGS) $(DEPFLAGS) $(call uses_incs,$<) -Wno-unused-parameter $(LDFLAGS_BASE) -o $@ $< \
	    $(call link_libs,$(call uses_libs,$<)) $(LDLIBS) $(UNIT_LIBS)

# The harness talks to the server over the protocol only: it includes no server header.
$(BUILD)/tests/integration/obj/%.o: tests/integration/%.c $(BUILD_FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/integration -c $< -o $@

$(HARNESS_LIB): $(INTEG_HELPER_OBJS)
	rm -f $@
	ar rcs $@ $^

# INTEG_LIBS_<test>: what one suite links on top (test_tls's OpenSSL client: Debian's hiredis 0.14
# has no TLS of its own; the server itself uses mbedtls).
INTEG_LIBS_test_tls := -lssl -lcrypto
$(BUILD)/tests/integration/%: tests/integration/%.c $(HARNESS_LIB) $$(call uses_libs,tests/integration/$$*.c) \
        $(BUILD_FLAGS_FILE) | $(BUILD)/tests/integration
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/integration $(call uses_incs,$<) $(LDFLAGS_BASE) -o $@ $< $(HARNESS_LIB) \
	    $(call link_libs,$(call uses_libs,$<)) $(LDLIBS) -lhiredis -lcriterion $(INTEG_LIBS_$*)

# The README's two commands install what they need first (as root), then build in a sub-make, so
# that no compiler starts before its libraries are there (a prerequisite would run alongside).
run:
	@scripts/install-deps.sh build
	@$(MAKE) --no-print-directory $(SERVER)
	$(SERVER) conf/quiver.conf

test:
	@scripts/install-deps.sh build test
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(INTEG_BINS)
	QUIVER_BUILD=$(BUILD) scripts/run-tests.sh all

test-unit: $(UNIT_BINS)
	QUIVER_BUILD=$(BUILD) scripts/run-tests.sh unit

test-integration: all $(INTEG_BINS)
	QUIVER_BUILD=$(BUILD) scripts/run-tests.sh integration

test-interop: all
	QUIVER_BUILD=$(BUILD) scripts/run-tests.sh interop

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# gcc's -O1 range analysis raises format-truncation/overflow warnings the -O2 build does not (a
# snprintf of an int into a small buffer); the normal build enforces warnings, this one is for
# finding runtime errors, so those two stay warnings here instead of stopping it.
SAN_WARN := -Wno-error=format-truncation -Wno-error=format-overflow
# LeakSanitizer is on for the tests and for every server they start: the harness stops a server
# with SIGTERM, it leaves through exit(), LSan checks it then, and a report makes the exit status
# non-zero, which fails the test. tests/lsan.supp lists third-party leaks only.
SAN_RUN_ENV := ASAN_OPTIONS=detect_leaks=1 \
    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1
sanitize: check-deps
	$(MAKE) BUILD=build-san BINDIR=build-san MALLOC=libc OPT=-O1 SAN_CFLAGS="$(SAN_FLAGS) $(SAN_WARN)" \
	    SAN_LDFLAGS="$(SAN_FLAGS)" all build-san-tests
	QUIVER_BUILD=build-san QUIVER_SERVER=build-san/quiver-server QUIVER_TIMEOUT_SCALE=2 \
	    $(SAN_RUN_ENV) scripts/run-tests.sh unit integration

build-san-tests: $(UNIT_BINS) $(INTEG_BINS)

# ThreadSanitizer: the pool and engine unit tests, then the threaded integration suites (normal
# test clients) against a server built with TSan, which stops at its first report.
TSAN_UNITS ?= $(wildcard tests/unit/test_pool.c tests/unit/test_hnsw.c tests/unit/test_flat.c)
TSAN_INTEG ?= test_threads test_search_batch test_ingest test_concurrency test_torture test_repl \
              test_repl_diskless test_failover test_databases test_expire test_dump_restore test_tls
tsan: check-deps
	$(MAKE) BUILD=build-tsan BINDIR=build-tsan MALLOC=libc OPT=-O1 SAN_CFLAGS="-fsanitize=thread" \
	    SAN_LDFLAGS="-fsanitize=thread" UNIT_CFLAGS=-Itests/unit/tsan UNIT_LIBS= \
	    $(patsubst tests/unit/%.c,build-tsan/tests/unit/%,$(TSAN_UNITS)) build-tsan/quiver-server
	$(MAKE) $(patsubst %,$(BUILD)/tests/integration/%,$(TSAN_INTEG))
	QUIVER_BUILD=build-tsan QUIVER_UNIT_ONLY="$(notdir $(basename $(TSAN_UNITS)))" QUIVER_TEST_TIMEOUT=1500 \
	    scripts/run-tests.sh unit
	QUIVER_SERVER=build-tsan/quiver-server QUIVER_INTEG_ONLY="$(TSAN_INTEG)" QUIVER_TIMEOUT_SCALE=4 \
	    TSAN_OPTIONS="halt_on_error=1" scripts/run-tests.sh integration

# libFuzzer harnesses link the layers of the headers they include (as unit tests do), built with
# clang and the same sanitizers into build-fuzz/ (fuzz-lib builds only the layers some harness
# needs). gcc's -Werror build owns the warnings; clang only warns here (it ignores gcc's optimize()).
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer $(FUZZ_SAN)
FUZZ_LIBDIR := build-fuzz
FUZZ_TIME ?= 20
fuzz_libs = $(patsubst $(BUILD)/%,$(FUZZ_LIBDIR)/%,$(call uses_libs,$(1)))
fuzz-lib:
	$(MAKE) BUILD=$(FUZZ_LIBDIR) CC=clang MALLOC=libc OPT=-O1 EXTRA_CFLAGS=-Wno-error \
	    SAN_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    $(sort $(foreach f,$(FUZZ_SRCS),$(call fuzz_libs,$(f))))

fuzz-build: fuzz-lib | $(BUILD)/fuzz
	$(foreach f,$(FUZZ_SRCS),clang $(FUZZ_CFLAGS) $(call uses_incs,$(f)) -o $(BUILD)/fuzz/$(basename $(notdir $(f))) \
	    $(f) $(call link_libs,$(call fuzz_libs,$(f))) -lm -lcjson -lmsgpackc -lcurl -lmbedtls -lmbedx509 -lmbedcrypto -pthread &&) true

fuzz: fuzz-build
	@for f in $(FUZZ_SRCS); do \
	    n=$$(basename $$f .c); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    echo "fuzzing $$n for $(FUZZ_TIME)s"; \
	    $(BUILD)/fuzz/$$n -max_total_time=$(FUZZ_TIME) -timeout=30 -max_len=65536 -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus-$$n tests/fuzz/seeds/$$n \
	        > $(BUILD)/fuzz/$$n.log 2>&1; st=$$?; \
	    if [ $$st -ne 0 ]; then tail -n 60 $(BUILD)/fuzz/$$n.log; echo "$$n failed (exit $$st)"; exit 1; fi; \
	    tail -n 3 $(BUILD)/fuzz/$$n.log; \
	done

deps:
	scripts/install-deps.sh all

# What the test targets need: the build and test groups (never the benchmark packages).
check-deps:
	@scripts/install-deps.sh build test

FORMAT_FILES = $(wildcard src/*/*.c src/*/*.h utils/*.c tests/unit/*.c tests/integration/*.c tests/integration/*.h tests/fuzz/*.c)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files formatted as .clang-format says"

clean:
	rm -rf build build-san build-tsan build-fuzz $(SERVER) $(UTIL_BINS)
