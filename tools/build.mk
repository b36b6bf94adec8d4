# tools/build.mk - the two command-line programs (zkbarrier, zkhostctl),
# their shared ZooKeeper client helper, and the unit tests of the
# ZooKeeper-side helper library ($(ZK_LIB): common/zkconn.c,
# common/status.c), which need libzookeeper_mt on top of what
# tests/build.mk links.

# ---- unit tests of $(ZK_LIB) ----------------------------------------------
# Explicit rules (they take precedence over the pattern rule in
# tests/build.mk, which links only the common and publish libraries).
ZK_UNIT_TESTS := $(BUILD)/tests/unit/test_zkconn $(BUILD)/tests/unit/test_status

$(ZK_UNIT_TESTS): $(BUILD)/tests/unit/%: tests/unit/%.c $(ZK_LIB) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ZK_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -lzookeeper_mt -llmdb -lcmocka
