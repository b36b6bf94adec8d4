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

# The import parsers are pure code: their unit test links their objects.
IMPORTERS_OBJ := $(BUILD)/obj/tools/importers.o $(BUILD)/obj/tools/import_json.o
$(BUILD)/tests/unit/test_importers: tests/unit/test_importers.c $(IMPORTERS_OBJ) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(IMPORTERS_OBJ) $(COMMON_LIB) $(ALL_LDFLAGS) -lcmocka

# ---- programs ---------------------------------------------------------------
# tools/zkclient.c is the ZooKeeper client layer both programs share.
TOOLS_CLIENT_OBJ := $(BUILD)/obj/tools/zkclient.o
ZKBARRIER_OBJ := $(addprefix $(BUILD)/obj/tools/,zkbarrier.o barrier_state.o barrier_hosts.o)
ZKHOSTCTL_SRC := $(wildcard tools/zkhostctl.c tools/ctl_*.c tools/importers.c tools/import_json.c)
ZKHOSTCTL_OBJ := $(ZKHOSTCTL_SRC:%.c=$(BUILD)/obj/%.o)

$(BUILD)/zkbarrier: $(ZKBARRIER_OBJ) $(TOOLS_CLIENT_OBJ) $(ZK_LIB) $(COMMON_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(ZKBARRIER_OBJ) $(TOOLS_CLIENT_OBJ) $(ZK_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -lzookeeper_mt -lm

ALL_TARGETS += $(BUILD)/zkbarrier
ifneq ($(ZKHOSTCTL_SRC),)
$(BUILD)/zkhostctl: $(ZKHOSTCTL_OBJ) $(TOOLS_CLIENT_OBJ) $(ZK_LIB) $(COMMON_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(ZKHOSTCTL_OBJ) $(TOOLS_CLIENT_OBJ) $(ZK_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -lzookeeper_mt -llmdb -lm
ALL_TARGETS += $(BUILD)/zkhostctl
endif

# ---- install ------------------------------------------------------------------
# zkbarrier is for every service's start script (bin); zkhostctl is an
# administration tool, section 8 (sbin).
.PHONY: install-tools
install-tools: $(BUILD)/zkbarrier $(if $(ZKHOSTCTL_SRC),$(BUILD)/zkhostctl)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/zkbarrier $(DESTDIR)$(BINDIR)/zkbarrier
	$(if $(ZKHOSTCTL_SRC),install -m 0755 $(BUILD)/zkhostctl $(DESTDIR)$(SBINDIR)/zkhostctl)
INSTALL_TARGETS += install-tools
