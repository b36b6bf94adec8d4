# tests/fuzz/build.mk - libFuzzer targets (tests/fuzz/fuzz_*.c) and their
# standalone corpus-replay builds. Included by the top Makefile after its
# flags and the common library are defined.
#
#   make fuzz                     build with clang + libFuzzer, run each
#                                 target FUZZ_SECONDS (default 10) seconds
#   make fuzz FUZZ_SECONDS=600    long runs; FUZZ_ONLY='fuzz_names ...'
#                                 picks targets
#   make fuzz-build               only build build/fuzz/fuzz_*
#   make fuzz-merge               add what the runs found that brings new
#                                 coverage to tests/fuzz/corpus/<target>/
#
# libFuzzer needs clang and its runtime (Debian: clang, libclang-rt-14-dev).
# Each target also becomes $(BUILD)/tests/unit/test_fuzz_<target> (built
# with $(CC) and the normal flags, sanitizers included, plus replay.c),
# which `make check` runs to replay the target's corpus once.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 10
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# Known findings not fixed yet (each explained where the target tests it);
# delete a define when its fix lands so the target enforces it again.
FUZZ_DEFS    :=
FUZZ_CFLAGS  := $(ZKH_CPPFLAGS) -Itests/fuzz $(FUZZ_DEFS) -std=gnu11 \
	$(WARN) -pthread -g -O1 $(FUZZ_SAN)

# What each target needs beyond tests/fuzz/<target>.c and the common
# library (and liblmdb, see FUZZ_COMMON_LIBS): sources compiled into it
# (FUZZ_SRC_) and libraries (FUZZ_LIBS_).
FUZZ_SRC_fuzz_snapshot       = $(wildcard nss_zk/*.c) tests/fuzz/nss_harness.c
FUZZ_SRC_fuzz_snapshot_raw   = $(FUZZ_SRC_fuzz_snapshot)
# Not fuzzed by default: it stops at the first crash inside liblmdb, which
# is known (see fuzz_snapshot_raw.c); its corpus is still replayed.
FUZZ_NOT_DEFAULT := fuzz_snapshot_raw
FUZZ_SRC_fuzz_import     := $(IMPORTERS_SRC)
FUZZ_LIBS_fuzz_import    := -ljansson
FUZZ_SRC_fuzz_zkdns      := zkdns/engine.c $(PUBLISH_SRC)
FUZZ_LIBS_fuzz_zkdns     := -lknot

FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_ONLY    ?= $(filter-out $(FUZZ_NOT_DEFAULT),$(FUZZ_TARGETS))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

FUZZ_COMMON_OBJ := $(COMMON_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
# common/core holds the snapshot reader, so every target (and its replay
# test) links liblmdb.
FUZZ_COMMON_LIBS := -llmdb

# FUZZ_OBJ_FLAGS: extra flags for one object, set target-specifically
# (e.g. to exempt a known finding from a sanitizer check until it is fixed).
$(FUZZ_BUILD)/obj/%.o: %.c tests/fuzz/build.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_OBJ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<


# $(1): target name. The libFuzzer binary and the replay unit test.
define fuzz_target
$(FUZZ_BUILD)/$(1): tests/fuzz/$(1).c tests/fuzz/fuzz.h tests/fuzz/build.mk $(FUZZ_COMMON_OBJ) $(FUZZ_SRC_$(1):%.c=$(FUZZ_BUILD)/obj/%.o)
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$(filter %.c %.o,$$^) $(FUZZ_LIBS_$(1)) $(FUZZ_COMMON_LIBS)

$(BUILD)/tests/unit/test_$(1): tests/fuzz/$(1).c tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/build.mk $(FUZZ_SRC_$(1):%.c=$(BUILD)/obj/%.o) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -Itests/fuzz $(FUZZ_DEFS) -DFUZZ_STANDALONE \
		'-DFUZZ_NAME="$(1)"' '-DFUZZ_CORPUS_DIR="$(CURDIR)/tests/fuzz/corpus/$(1)"' \
		-o $$@ tests/fuzz/$(1).c tests/fuzz/replay.c \
		$(FUZZ_SRC_$(1):%.c=$(BUILD)/obj/%.o) $(COMMON_LIB) \
		$$(ALL_LDFLAGS) $(FUZZ_LIBS_$(1)) $(FUZZ_COMMON_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(t))))

# Every target's corpus replay is part of `make check`.
FUZZ_REPLAY_TESTS := $(FUZZ_TARGETS:%=$(BUILD)/tests/unit/test_%)
UNIT_TESTS += $(FUZZ_REPLAY_TESTS)
CHECK_DEPS += $(FUZZ_REPLAY_TESTS)

.PHONY: fuzz fuzz-build fuzz-merge
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) \
		tests/fuzz/run-fuzz $(filter $(FUZZ_ONLY),$(FUZZ_TARGETS))

fuzz-merge: $(FUZZ_BINS)
	FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run-fuzz --merge \
		$(filter $(FUZZ_ONLY),$(FUZZ_TARGETS))

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

# The snapshot harness is compiled once per tree by the generic object
# rule; it needs the known-finding defines too.
$(BUILD)/obj/tests/fuzz/nss_harness.o: CPPFLAGS += $(FUZZ_DEFS)
$(BUILD)/obj/tests/fuzz/nss_harness.o: tests/fuzz/build.mk
