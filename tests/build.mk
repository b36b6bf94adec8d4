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
TEST_TOOL_SRC := $(wildcard tests/tools/*.c)
TEST_TOOLS    := $(TEST_TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
$(BUILD)/tests/tools/%: tests/tools/%.c $(PUBLISH_LIB) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(PUBLISH_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -llmdb -ldl

CHECK_DEPS += $(UNIT_TESTS) $(TEST_TOOLS)
