# zkdns/build.mk - zkdns, the DNS front-end of the snapshot
# (build/zkdns): the engine (engine.c: snapshot + answers, also linked
# into the fuzz target) and the event loop (main.c). Links the common/core
# reader, libknot (wire format), liblmdb and libsystemd; never ZooKeeper.

ZKDNS_SRC := zkdns/engine.c zkdns/main.c
ZKDNS_OBJ := $(ZKDNS_SRC:%.c=$(BUILD)/obj/%.o)
ZKDNS_BIN := $(BUILD)/zkdns

$(ZKDNS_BIN): $(ZKDNS_OBJ) $(COMMON_LIB) $(FLAGS_STAMP)
	$(CC) -o $@ $(ZKDNS_OBJ) $(COMMON_LIB) $(ALL_LDFLAGS) -Wl,--as-needed \
		-lknot -llmdb -lsystemd

ALL_TARGETS += $(ZKDNS_BIN)
CHECK_DEPS += $(ZKDNS_BIN)

.PHONY: install-zkdns
install-zkdns: $(ZKDNS_BIN)
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(ZKDNS_BIN) $(DESTDIR)$(SBINDIR)/zkdns
INSTALL_TARGETS += install-zkdns

# The measurement behind the choice of libknot over ldns (by hand; needs
# libldns-dev): per-query parse + answer cost of each library.
.PHONY: bench-zkdns-libchoice
bench-zkdns-libchoice: $(FLAGS_STAMP)
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -o $(BUILD)/bench/zkdns-libchoice \
		bench/zkdns/libchoice.c $(ALL_LDFLAGS) -lknot -lldns
	$(BUILD)/bench/zkdns-libchoice
