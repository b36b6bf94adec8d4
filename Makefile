# zkhosts top-level build. Everything lands in build/. Each component adds
# its own rules in a fragment (<dir>/build.mk) so a change to one part
# touches one file; this file holds the flags, the object rule and the list
# of fragments (common/build.mk says which shared code links where).
#
#   make                 build everything
#   make check           build and run every test (tests/run-tests)
#   make check SANITIZE=address,undefined
#   make install DESTDIR=... PREFIX=/usr
#   make bench           benchmarks (bench/)
#   make demo            installs only what the demo needs (install-deps
#                        --demo), builds zkcached and the module, runs it
#   make deps check      installs everything, then builds and tests
#   make container-check the README's two commands in fresh Debian roots
#                        without CAP_SYS_ADMIN (tests/container/)
#   CC=clang make        any C11 compiler; WERROR=0 to allow warnings

# `make deps GOAL...`: make reads this tree before deps installs anything,
# so what it decided from the machine (scdoc present, so man pages are
# built) would be stale. Then deps runs first and a fresh make does the
# other goals.
ZKH_AFTER_DEPS := $(filter-out deps,$(MAKECMDGOALS))
ifneq ($(and $(filter deps,$(MAKECMDGOALS)),$(ZKH_AFTER_DEPS)),)
.PHONY: deps zkh-after-deps $(ZKH_AFTER_DEPS)
deps:
	scripts/install-deps
zkh-after-deps: deps
	+$(MAKE) $(ZKH_AFTER_DEPS)
$(ZKH_AFTER_DEPS): zkh-after-deps
	@:
else

comma := ,
CC       ?= cc
PREFIX   ?= /usr
DESTDIR  ?=
WERROR   ?= 1
SANITIZE ?=
CFLAGS   ?= -O2 -g
# Sanitizer builds get their own tree, so they never mix with the plain one.
BUILD    ?= $(if $(SANITIZE),build/san-$(subst $(comma),-,$(SANITIZE)),build)
VERSION  := 0.1.0

MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
ifeq ($(MULTIARCH),)
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
endif
LIBDIR     ?= $(PREFIX)/lib/$(MULTIARCH)
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wpointer-arith
ifeq ($(WERROR),1)
WARN += -Werror
endif

ZKH_CPPFLAGS := -Iinclude -D_GNU_SOURCE -DZKH_VERSION=\"$(VERSION)\"
ZKH_CFLAGS   := -std=gnu11 $(WARN) -fPIC -fvisibility=hidden -pthread
ZKH_LDFLAGS  := -pthread
ifneq ($(SANITIZE),)
ZKH_CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
ZKH_LDFLAGS += -fsanitize=$(SANITIZE)
endif

ALL_CFLAGS  = $(ZKH_CPPFLAGS) $(CPPFLAGS) $(ZKH_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(ZKH_LDFLAGS) $(LDFLAGS)

# Remember the flags: a change of compiler or sanitizer rebuilds everything.
FLAGS_STAMP := $(BUILD)/.flags
$(shell mkdir -p $(BUILD) && echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' | cmp -s - $(FLAGS_STAMP) || echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' > $(FLAGS_STAMP))

ALL_TARGETS :=
CHECK_DEPS  :=
INSTALL_TARGETS :=

.PHONY: all check install bench clean deps demo
all: build-all

# Install build and test dependencies (Debian, as root).
deps:
	scripts/install-deps

# ---- objects -----------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# ---- components ---------------------------------------------------------
# Every fragment is required: a missing one is an error, not a component
# silently left out.
include common/build.mk
include nss_zk/build.mk
include cache-daemon/build.mk
include tools/build.mk
include zkdns/build.mk
include docs/build.mk
include tests/build.mk
include tests/fuzz/build.mk
include tests/scale/build.mk
include tests/stress/build.mk
include examples/cluster/build.mk
include bench/build.mk
include packaging/build.mk
include tests/container/build.mk

build-all: $(ALL_TARGETS)

# The main job end to end: throwaway ZooKeeper, zkcached, live lookups.
# Installs only the demo's packages and builds only what it runs (a fresh
# make after the install, which reads the machine anew).
demo:
	scripts/install-deps --demo
	+$(MAKE) $(BUILD)/zkcached $(BUILD)/libnss_zk.so.2
	ZKH_BUILD=$(abspath $(BUILD)) /usr/bin/python3 scripts/demo.py

check: build-all $(CHECK_DEPS)
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) CC=$(CC) tests/run-tests

install: build-all $(INSTALL_TARGETS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

endif
