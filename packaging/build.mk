# packaging/build.mk - Debian packages (included by the top Makefile).
#
#   make deb         build libnss-zk and zkcached .debs into build/deb/
#                    (stages a copy of the tree in build/deb/zkhosts-VERSION/
#                    with packaging/debian as its debian/; never writes a
#                    debian/ directory into the source tree)
#   make deb-lint    lintian --fail-on error,warning over what `make deb` built
#   make deb-check   deb + deb-lint + the lifecycle test in a bookworm chroot
#                    (packaging/tests/deb-lifecycle; needs root, mmdebstrap
#                    and Debian's apt mirror the first time; the chroot
#                    tarball is cached in build/deb-chroot/)
#   make deb-check DEB_RELEASE=trixie
#                    the same lifecycle test in a trixie tree: the packages
#                    built on this machine installed on the newer release
#                    (packages built on trixie itself: make container-check
#                    CONTAINER_RELEASES=trixie CONTAINER_DEB=1)
#
#   make build-packaged / install-packaged
#                    build / install only what the packages ship (below)
#
# These targets always build in the plain tree (no SANITIZE), whatever the
# caller's make variables are: the package build runs its own make.

.PHONY: deb deb-lint deb-check build-packaged install-packaged
DEB_RELEASE ?= bookworm

# What the packages ship and nothing else: debian/rules builds with
# build-packaged and installs with install-packaged, so a package build
# never compiles the benchmarks, stress or test programs (`make install`
# builds everything first). Each install-* target depends on what it
# installs, so one added to INSTALL_TARGETS without being listed here is
# still built, by install-packaged.
PACKAGED_FILES = $(NSS_LIB) $(ZKCACHED) $(BUILD)/zkbarrier $(ZKDNS_BIN) \
	$(BUILD)/zkhostctl $(MAN_OUT)
build-packaged: $(PACKAGED_FILES)
install-packaged: $(INSTALL_TARGETS)

deb:
	packaging/build-deb

deb-lint:
	packaging/lint-deb

deb-check: deb
	packaging/lint-deb
	$(MAKE) BUILD=build SANITIZE= build/tests/tools/zkh-publish
	DEB_RELEASE=$(DEB_RELEASE) packaging/tests/deb-lifecycle

# Unit test of the shipped conffile against the real parser (make check).
PKG_UNIT_TESTS := $(BUILD)/tests/unit/test_pkg_conffile
$(PKG_UNIT_TESTS): $(BUILD)/tests/unit/%: packaging/tests/%.c $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(COMMON_LIB) $(ALL_LDFLAGS) -lcmocka
CHECK_DEPS += $(PKG_UNIT_TESTS)
