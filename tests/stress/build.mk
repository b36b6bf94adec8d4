# tests/stress/build.mk - the stress programs (tests/stress/*.c, each
# linked with model.c) and two targets outside the default suite:
#
#   make stress            tests/stress/run-stress: zkcached against a real
#                          ZooKeeper under ~1,000 changes/s while 16 threads
#                          resolve (STRESS_SECONDS, default 60), fork
#                          storms, descriptor chaos, lookups from a signal
#                          handler, dlopen/dlclose loop, snapshot budget,
#                          znode storm (STRESS_STORM, default 20000).
#                          Minutes; prints the figures.
#   make check-tsan        the module and the concurrency test programs
#                          built with -fsanitize=thread in build/san-thread,
#                          then the NSS concurrency and signal tests run
#                          on them. The signal test runs with
#                          report_signal_unsafe=0: a handler that happens
#                          to be the lookup noticing a new snapshot opens
#                          it (malloc), which TSan rightly flags and
#                          docs/security.md documents as not AS-safe.
#
# The programs are also built by `make` (the integration tests
# test_signal.py and test_setuid.py use them).

STRESS_PROGS := $(patsubst tests/stress/%.c,$(BUILD)/tests/stress/%,\
	$(filter-out tests/stress/model.c,$(wildcard tests/stress/*.c)))
STRESS_SECONDS ?= 60
STRESS_STORM   ?= 20000

$(BUILD)/tests/stress/%: tests/stress/%.c tests/stress/model.c \
		tests/stress/model.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(STRESS_DEFS) -Itests/stress -o $@ $< \
		tests/stress/model.c $(ALL_LDFLAGS) -ldl

# sig_lookup interposes openat for the module it dlopens: export it.
$(BUILD)/tests/stress/sig_lookup: STRESS_DEFS = -rdynamic

# The set-uid client loads the module from a path fixed at build time.
$(BUILD)/tests/stress/suid_resolve: STRESS_DEFS = \
	-DZKH_MODULE_PATH='"$(abspath $(BUILD))/libnss_zk.so.2"'

ALL_TARGETS += $(STRESS_PROGS)

.PHONY: stress check-tsan
stress: build-all
	STRESS_SECONDS=$(STRESS_SECONDS) STRESS_STORM=$(STRESS_STORM) \
		ZKH_BUILD=$(abspath $(BUILD)) ZKH_SRC=$(CURDIR) \
		PYTHONPATH=$(CURDIR)/tests/lib /usr/bin/python3 tests/stress/run-stress

TSAN_BUILD := build/san-thread
check-tsan:
	$(MAKE) SANITIZE=thread $(TSAN_BUILD)/libnss_zk.so.2 \
		$(TSAN_BUILD)/tests/tools/nss_stress \
		$(TSAN_BUILD)/tests/tools/nss_churn \
		$(patsubst $(BUILD)/%,$(TSAN_BUILD)/%,$(STRESS_PROGS))
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 $(TSAN_OPTIONS)" \
		BUILD=$(TSAN_BUILD) SANITIZE=thread TESTS='test_nss_concurrency*' \
		tests/run-tests
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 report_signal_unsafe=0 $(TSAN_OPTIONS)" \
		BUILD=$(TSAN_BUILD) SANITIZE=thread TESTS='test_signal*' \
		tests/run-tests
