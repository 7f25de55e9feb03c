# Quiver build. One Makefile, no recursion: every src/*.c except the programs' mains goes into
# build/libquiver.a; the server, the tools and every test link against it. New modules and new
# tests are picked up by wildcard, so adding a file never needs an edit here.
#
#   make                 src/quiver-server (+ tools), -O2, jemalloc
#   make MALLOC=libc     same with libc malloc
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
CFLAGS_BASE := -std=gnu11 $(OPT) -g $(WARN) -pthread -Isrc -D_GNU_SOURCE $(SAN_CFLAGS)
LDLIBS_BASE := -lm -pthread -lcjson -lmsgpackc
LDFLAGS_BASE := $(SAN_LDFLAGS)

ifeq ($(MALLOC),jemalloc)
CFLAGS_BASE += -DUSE_JEMALLOC
LDLIBS_BASE += -ljemalloc
endif

CFLAGS := $(CFLAGS_BASE) $(EXTRA_CFLAGS)
LDLIBS := $(LDLIBS_BASE)

# Programs whose main() lives in src/ (kept out of the library).
PROGRAM_MAINS := src/server_main.c
# Backends #included by their front end (ae.c includes ae_epoll.c), not compiled on their own.
INCLUDED_SRCS := src/ae_epoll.c
LIB_SRCS := $(filter-out $(PROGRAM_MAINS) $(INCLUDED_SRCS),$(wildcard src/*.c))
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIB := $(BUILD)/libquiver.a

# Programs go to src/ (as redis-server's do); sanitizer builds put theirs in their build dir so
# they never overwrite the normal binaries.
BINDIR ?= src
UTIL_SRCS := $(wildcard utils/*.c)
UTIL_BINS := $(patsubst utils/%.c,$(BINDIR)/%,$(UTIL_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
INTEG_HELPERS := $(filter-out tests/integration/test_%.c,$(wildcard tests/integration/*.c))
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

SERVER := $(BINDIR)/quiver-server

.PHONY: all run test test-unit test-integration test-interop sanitize tsan fuzz fuzz-build fuzz-lib deps \
        format format-check clean check-deps

all: $(SERVER) $(UTIL_BINS)

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj $(BUILD)/tests/unit $(BUILD)/tests/integration $(BUILD)/fuzz:
	mkdir -p $@

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# -rdynamic: the crash report's backtrace names the server's functions (src/crash.c).
$(SERVER): $(BUILD)/obj/server_main.o $(LIB)
	$(CC) $(LDFLAGS_BASE) -rdynamic -o $@ $^ $(LDLIBS)

$(BUILD)/obj/server_main.o: src/server_main.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BINDIR)/%: utils/%.c $(LIB) $(wildcard src/*.h)
	$(CC) $(CFLAGS) $(LDFLAGS_BASE) -o $@ $< $(LIB) $(LDLIBS) -lhiredis

# Unit tests link criterion, except under `make tsan`, which swaps in the single-process stand-in
# tests/unit/tsan/criterion/criterion.h (criterion's runner cannot start under TSan).
UNIT_CFLAGS ?=
UNIT_LIBS ?= -lcriterion
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB) | $(BUILD)/tests/unit
	$(CC) $(UNIT_CFLAGS) $(CFLAGS) -Wno-unused-parameter $(LDFLAGS_BASE) -o $@ $< $(LIB) $(LDLIBS) $(UNIT_LIBS)

$(BUILD)/tests/integration/%: tests/integration/%.c $(INTEG_HELPERS) $(wildcard tests/integration/*.h) $(LIB) | $(BUILD)/tests/integration
	$(CC) $(CFLAGS) -Itests/integration $(LDFLAGS_BASE) -o $@ $< $(INTEG_HELPERS) $(LIB) $(LDLIBS) -lhiredis -lcriterion

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
TSAN_INTEG ?= test_threads test_search_batch test_ingest test_concurrency test_torture
tsan: check-deps
	$(MAKE) BUILD=build-tsan BINDIR=build-tsan MALLOC=libc OPT=-O1 SAN_CFLAGS="-fsanitize=thread" \
	    SAN_LDFLAGS="-fsanitize=thread" UNIT_CFLAGS=-Itests/unit/tsan UNIT_LIBS= \
	    $(patsubst tests/unit/%.c,build-tsan/tests/unit/%,$(TSAN_UNITS)) build-tsan/quiver-server
	$(MAKE) $(patsubst %,$(BUILD)/tests/integration/%,$(TSAN_INTEG))
	QUIVER_BUILD=build-tsan QUIVER_UNIT_ONLY="$(notdir $(basename $(TSAN_UNITS)))" QUIVER_TEST_TIMEOUT=1500 \
	    scripts/run-tests.sh unit
	QUIVER_SERVER=build-tsan/quiver-server QUIVER_INTEG_ONLY="$(TSAN_INTEG)" QUIVER_TIMEOUT_SCALE=4 \
	    TSAN_OPTIONS="halt_on_error=1" scripts/run-tests.sh integration

# libFuzzer harnesses link the library modules they fuzz (the "FUZZ_MODULES:" line of their header
# comment), built with clang and the fuzzer runtime. A harness whose module needs the server's
# globals (config.c) says "FUZZ_LIB: yes" and links the whole library instead, built with clang
# and the same sanitizers into build-fuzz/ (fuzz-lib; built only when such a harness exists).
# gcc's -Werror build owns the warnings; clang only warns here (it ignores gcc's optimize()).
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Isrc -D_GNU_SOURCE -fsanitize=fuzzer $(FUZZ_SAN)
FUZZ_LIBDIR := build-fuzz
FUZZ_TIME ?= 20
fuzz-lib:
	$(MAKE) BUILD=$(FUZZ_LIBDIR) CC=clang MALLOC=libc OPT=-O1 EXTRA_CFLAGS=-Wno-error \
	    SAN_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_LIBDIR)/libquiver.a

fuzz-build: $(if $(shell grep -l '^ \* FUZZ_LIB: yes' $(FUZZ_SRCS)),fuzz-lib) | $(BUILD)/fuzz
	@for f in $(FUZZ_SRCS); do \
	    n=$$(basename $$f .c); mods=$$(sed -n 's/^ \* FUZZ_MODULES: *//p' $$f); \
	    if grep -q '^ \* FUZZ_LIB: yes' $$f; then \
	        echo "clang $$n ($(FUZZ_LIBDIR)/libquiver.a)"; \
	        clang $(FUZZ_CFLAGS) -o $(BUILD)/fuzz/$$n $$f $(FUZZ_LIBDIR)/libquiver.a -lm -lcjson -lmsgpackc -pthread || exit 1; \
	    else \
	        echo "clang $$n ($$mods)"; \
	        clang $(FUZZ_CFLAGS) -o $(BUILD)/fuzz/$$n $$f $$(for m in $$mods; do echo src/$$m.c; done) -lm -lcjson -lmsgpackc -pthread || exit 1; \
	    fi; \
	done

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

FORMAT_FILES = $(wildcard src/*.c src/*.h utils/*.c tests/unit/*.c tests/integration/*.c tests/integration/*.h tests/fuzz/*.c)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files formatted as .clang-format says"

clean:
	rm -rf build build-san build-tsan build-fuzz $(SERVER) $(UTIL_BINS)
