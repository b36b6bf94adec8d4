# cache-daemon/build.mk - zkcached, the ZooKeeper sync daemon. It links the
# writer (common/publish/), the ZooKeeper helpers and status file
# (common/zk/) and the core (common/core/).
#
# The daemon's roles (everything but main.c and zkio.c) are also linked
# into the unit tests tests/unit/test_daemon_*.c, with the fake ZooKeeper
# model tests/fakezk/fakezk.c in place of zkio.c (the only file that calls
# the ZooKeeper API), so its logic is tested without a server. (They link
# libzookeeper_mt only because common/zk's objects refer to it; no test
# opens a handle.)

ZKCACHED_SRC := $(wildcard cache-daemon/*.c)
ZKCACHED_OBJ := $(ZKCACHED_SRC:%.c=$(BUILD)/obj/%.o)
ZKCACHED     := $(BUILD)/zkcached
ZKD_ROLE_OBJ := $(filter-out %/main.o %/zkio.o,$(ZKCACHED_OBJ))

$(ZKCACHED): $(ZKCACHED_OBJ) $(PUBLISH_LIB) $(ZK_LIB) $(COMMON_LIB)
	$(CC) -o $@ $(ZKCACHED_OBJ) $(PUBLISH_LIB) $(ZK_LIB) $(COMMON_LIB) \
		$(ALL_LDFLAGS) -lzookeeper_mt -lnettle -llmdb -lsystemd

# Unit tests of the daemon's logic: roles + fake ZooKeeper, no server.
ZKD_UNIT_SRC   := $(wildcard tests/unit/daemon/test_daemon_*.c)
ZKD_UNIT_TESTS := $(ZKD_UNIT_SRC:tests/unit/daemon/%.c=$(BUILD)/tests/unit/%)
FAKEZK_OBJ     := $(BUILD)/obj/tests/fakezk/fakezk.o
.SECONDARY: $(FAKEZK_OBJ)

$(BUILD)/obj/tests/fakezk/%.o: tests/fakezk/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icache-daemon -MMD -MP -c -o $@ $<

$(BUILD)/tests/unit/test_daemon_%: tests/unit/daemon/test_daemon_%.c $(ZKD_ROLE_OBJ) $(FAKEZK_OBJ) \
		$(PUBLISH_LIB) $(ZK_LIB) $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icache-daemon -Itests/fakezk -o $@ $< $(ZKD_ROLE_OBJ) $(FAKEZK_OBJ) \
		$(PUBLISH_LIB) $(ZK_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) -lzookeeper_mt -lnettle -llmdb -lsystemd -lcmocka

UNIT_TESTS      += $(ZKD_UNIT_TESTS)
ALL_TARGETS     += $(ZKCACHED)
INSTALL_TARGETS += install-daemon

.PHONY: install-daemon
install-daemon: $(ZKCACHED)
	install -D -m 0755 $(ZKCACHED) $(DESTDIR)$(SBINDIR)/zkcached
