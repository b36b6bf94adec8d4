# cache-daemon/build.mk - zkcached, the ZooKeeper sync daemon.
# Built only once the shared pieces it links exist (common/config.c,
# common/publish.c, common/zkconn.c, common/status.c), so the tree keeps
# building while they land.

ZKCACHED_SRC := $(wildcard cache-daemon/*.c)
ZKCACHED_OBJ := $(ZKCACHED_SRC:%.c=$(BUILD)/obj/%.o)
ZKCACHED     := $(BUILD)/zkcached
ZKCACHED_NEEDS := common/config.c common/publish.c common/zkconn.c common/status.c common/names.c common/record.c

ifeq ($(words $(wildcard $(ZKCACHED_NEEDS))),$(words $(ZKCACHED_NEEDS)))
$(ZKCACHED): $(ZKCACHED_OBJ) $(PUBLISH_LIB) $(ZK_LIB) $(COMMON_LIB)
	$(CC) -o $@ $(ZKCACHED_OBJ) $(PUBLISH_LIB) $(ZK_LIB) $(COMMON_LIB) \
		$(ALL_LDFLAGS) -lzookeeper_mt -llmdb -lsystemd

ALL_TARGETS     += $(ZKCACHED)
INSTALL_TARGETS += install-daemon
endif

.PHONY: install-daemon
install-daemon: $(ZKCACHED)
	install -D -m 0755 $(ZKCACHED) $(DESTDIR)$(SBINDIR)/zkcached
