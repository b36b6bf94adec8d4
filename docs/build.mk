# docs/build.mk - the man pages: scdoc sources docs/man/NAME.SECTION.scd
# rendered to build/man/NAME.SECTION and installed under $(MANDIR).
# scdoc is the Debian package `scdoc`. Without it `make` skips the pages
# with a note, and `make install` (install-man) stops with a clear error.

SCDOC    ?= scdoc
MAN_SRC  := $(wildcard docs/man/*.scd)
MAN_OUT  := $(MAN_SRC:docs/man/%.scd=$(BUILD)/man/%)
HAVE_SCDOC := $(shell command -v $(SCDOC) 2>/dev/null)

define need_scdoc
	@command -v $(SCDOC) >/dev/null 2>&1 || { \
	  echo "error: '$(SCDOC)' not found: the man pages are written in scdoc;" \
	       "install it (apt-get install scdoc) or set SCDOC=/path/to/scdoc" >&2; \
	  exit 1; }
endef

$(BUILD)/man/%: docs/man/%.scd
	$(need_scdoc)
	@mkdir -p $(dir $@)
	$(SCDOC) < $< > $@.tmp && mv $@.tmp $@

.PHONY: man install-man
man: $(MAN_OUT)

ifneq ($(HAVE_SCDOC),)
ALL_TARGETS += $(MAN_OUT)
else
$(info note: scdoc not installed: man pages not built (apt-get install scdoc))
endif

# libnss_zk(8) is also reachable as nss-zk(8).
install-man: $(MAN_OUT)
	$(need_scdoc)
	@set -e; for f in $(MAN_OUT); do \
	  n=$$(basename $$f); s=$${n##*.}; \
	  install -d $(DESTDIR)$(MANDIR)/man$$s; \
	  install -m 0644 $$f $(DESTDIR)$(MANDIR)/man$$s/$$n; \
	  echo "install $(DESTDIR)$(MANDIR)/man$$s/$$n"; \
	done
	printf '.so man8/libnss_zk.8\n' > $(DESTDIR)$(MANDIR)/man8/nss-zk.8
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/nss-zk.8

INSTALL_TARGETS += install-man
