# nss_zk/build.mk - the NSS hosts module build/libnss_zk.so.2, its unit
# test (the packer, linked with the module's own objects) and its install
# rule. The module links only libc and liblmdb: it carries the common/core
# objects (names, record codec, config, the snapshot reader and its lookup
# rules) but not the publisher. Only the
# _nss_zk_* entry points are exported (nss_zk.map, -fvisibility=hidden).

NSS_SRC := nss_zk/entry.c nss_zk/pack.c nss_zk/current.c nss_zk/snapfile.c
NSS_OBJ := $(NSS_SRC:%.c=$(BUILD)/obj/%.o)
NSS_LIB := $(BUILD)/libnss_zk.so.2
NSS_MAP := nss_zk/nss_zk.map

# -z defs catches a missing symbol at link time; sanitizer runtimes are
# resolved from the preloaded runtime instead, so skip it under SANITIZE.
# -z nodelete: dlclose never unloads the module. Its open snapshot (a
# descriptor, two mappings, LMDB's environment) cannot be closed at unload
# time, since the same destructor would also run at exit() while other
# threads may still be resolving; so an unload would leak it on every
# dlopen/dlclose cycle (tests/stress/dlopen_loop.c).
NSS_ZDEFS := $(if $(SANITIZE),,-Wl,-z,defs)

$(NSS_LIB): $(NSS_OBJ) $(COMMON_OBJ) $(NSS_MAP) $(FLAGS_STAMP)
	$(CC) -shared -o $@ $(NSS_OBJ) $(COMMON_OBJ) $(ALL_LDFLAGS) \
		-Wl,-soname,libnss_zk.so.2 -Wl,--version-script=$(NSS_MAP) \
		$(NSS_ZDEFS) -Wl,-z,nodelete -Wl,--as-needed -llmdb

ALL_TARGETS += $(NSS_LIB)

# The packer's unit test needs the packer object, not just common.
$(BUILD)/tests/unit/test_nss_pack: tests/unit/test_nss_pack.c \
		$(BUILD)/obj/nss_zk/pack.o $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Inss_zk -o $@ $< $(BUILD)/obj/nss_zk/pack.o \
		$(COMMON_LIB) $(ALL_LDFLAGS) -lcmocka

# Integration tests load the module.
CHECK_DEPS += $(NSS_LIB)

.PHONY: install-nss
install-nss: $(NSS_LIB)
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0644 $(NSS_LIB) $(DESTDIR)$(LIBDIR)/libnss_zk.so.2
INSTALL_TARGETS += install-nss
