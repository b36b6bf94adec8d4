# tools/build.mk - the two command-line programs and what they share:
#
#   tools/lib/        the ZooKeeper client layer both programs use
#   tools/zkbarrier/  zkbarrier: boot barrier (set, wait, hosts)
#   tools/zkhostctl/  zkhostctl: records, import/export, cache status
#
# plus the unit tests of the ZooKeeper-side helper library ($(ZK_LIB),
# common/zk/), which need libzookeeper_mt on top of what tests/build.mk
# links, and of the import parsers and JSON output (jansson: only zkhostctl
# links it; the NSS module and zkcached never do).

TOOLS_CPPFLAGS := -Itools/lib

# ---- unit tests of $(ZK_LIB) ----------------------------------------------
# Explicit rules (they take precedence over the pattern rule in
# tests/build.mk, which links only the common and publish libraries).
ZK_UNIT_TESTS := $(BUILD)/tests/unit/test_zkconn $(BUILD)/tests/unit/test_status \
	$(BUILD)/tests/unit/test_zkacl

$(ZK_UNIT_TESTS): $(BUILD)/tests/unit/%: tests/unit/%.c $(ZK_LIB) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ZK_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -lzookeeper_mt -lnettle -llmdb -lcmocka

# The import parsers are pure code: their unit test links their objects.
IMPORTERS_SRC := tools/zkhostctl/importers.c tools/zkhostctl/import_json.c
IMPORTERS_OBJ := $(IMPORTERS_SRC:%.c=$(BUILD)/obj/%.o)
$(BUILD)/tests/unit/test_importers: tests/unit/test_importers.c $(IMPORTERS_OBJ) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itools/zkhostctl -o $@ $< $(IMPORTERS_OBJ) $(COMMON_LIB) $(ALL_LDFLAGS) -ljansson -lcmocka

# zkhostctl's JSON strings from arbitrary bytes (ctl_json.c).
CTL_JSON_OBJ := $(BUILD)/obj/tools/zkhostctl/ctl_json.o
$(BUILD)/tests/unit/test_ctl_json: tests/unit/test_ctl_json.c $(CTL_JSON_OBJ) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TOOLS_CPPFLAGS) -Itools/zkhostctl -o $@ $< $(CTL_JSON_OBJ) $(ALL_LDFLAGS) -ljansson -lm -lcmocka

# ---- programs ---------------------------------------------------------------
TOOLS_LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/lib/*.c))
ZKBARRIER_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/zkbarrier/*.c))
ZKHOSTCTL_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/zkhostctl/*.c))

$(TOOLS_LIB_OBJ) $(ZKBARRIER_OBJ) $(ZKHOSTCTL_OBJ): ZKH_CPPFLAGS += $(TOOLS_CPPFLAGS)

$(BUILD)/zkbarrier: $(ZKBARRIER_OBJ) $(TOOLS_LIB_OBJ) $(ZK_LIB) $(COMMON_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(ZKBARRIER_OBJ) $(TOOLS_LIB_OBJ) $(ZK_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -lzookeeper_mt -lnettle -lm

$(BUILD)/zkhostctl: $(ZKHOSTCTL_OBJ) $(TOOLS_LIB_OBJ) $(ZK_LIB) $(COMMON_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(ZKHOSTCTL_OBJ) $(TOOLS_LIB_OBJ) $(ZK_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -lzookeeper_mt -lnettle -llmdb -ljansson -lm

ALL_TARGETS += $(BUILD)/zkbarrier $(BUILD)/zkhostctl

# ---- install ------------------------------------------------------------------
# zkbarrier is for every service's start script (bin); zkhostctl is an
# administration tool, section 8 (sbin).
.PHONY: install-tools
install-tools: $(BUILD)/zkbarrier $(BUILD)/zkhostctl
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/zkbarrier $(DESTDIR)$(BINDIR)/zkbarrier
	install -m 0755 $(BUILD)/zkhostctl $(DESTDIR)$(SBINDIR)/zkhostctl
INSTALL_TARGETS += install-tools
