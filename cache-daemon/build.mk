# cache-daemon/build.mk - zkcached, the ZooKeeper sync daemon. It links the
# writer (common/publish/), the ZooKeeper helpers and status file
# (common/zk/) and the core (common/core/).

ZKCACHED_SRC := $(wildcard cache-daemon/*.c)
ZKCACHED_OBJ := $(ZKCACHED_SRC:%.c=$(BUILD)/obj/%.o)
ZKCACHED     := $(BUILD)/zkcached

$(ZKCACHED): $(ZKCACHED_OBJ) $(PUBLISH_LIB) $(ZK_LIB) $(COMMON_LIB)
	$(CC) -o $@ $(ZKCACHED_OBJ) $(PUBLISH_LIB) $(ZK_LIB) $(COMMON_LIB) \
		$(ALL_LDFLAGS) -lzookeeper_mt -llmdb -lsystemd

ALL_TARGETS     += $(ZKCACHED)
INSTALL_TARGETS += install-daemon

.PHONY: install-daemon
install-daemon: $(ZKCACHED)
	install -D -m 0755 $(ZKCACHED) $(DESTDIR)$(SBINDIR)/zkcached
