# Unit tests: every tests/unit/test_*.c becomes build/tests/unit/test_*,
# linked with cmocka, the common code and the publisher. A component that
# needs more (e.g. the NSS module's objects) adds its own rules in its own
# build.mk and appends the binary to UNIT_TESTS.
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_TESTS += $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)

$(BUILD)/tests/unit/%: tests/unit/%.c $(PUBLISH_LIB) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(PUBLISH_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -llmdb -lcmocka

# Small helper programs the integration tests drive (tests/tools/*.c).
TEST_TOOL_SRC := $(filter-out tests/tools/nss_select.c,$(wildcard tests/tools/*.c))
TEST_TOOLS    := $(TEST_TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
$(BUILD)/tests/tools/%: tests/tools/%.c $(PUBLISH_LIB) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(PUBLISH_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -llmdb -ldl

CHECK_DEPS += $(UNIT_TESTS) $(TEST_TOOLS)

# The preload shim (tests/tools/nss_select.c) is a shared object, not a
# program: any unmodified client run with it preloaded and ZKH_NSS_HOSTS
# set resolves through that hosts line in-process (no mount namespace).
# Never sanitized: a preloaded library that needs a sanitizer runtime would
# load it after itself, which the runtimes refuse; the tests preload the
# runtime first and this shim after it.
NSS_SELECT := $(BUILD)/tests/tools/nss_select.so
$(NSS_SELECT): tests/tools/nss_select.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ZKH_CPPFLAGS) $(CPPFLAGS) -std=gnu11 $(WARN) -fPIC $(CFLAGS) \
		-shared -o $@ $< $(LDFLAGS)
CHECK_DEPS += $(NSS_SELECT)
