# bench/build.mk - the benchmark programs and `make bench`.
#
#   make bench                 quick run (a few minutes on 2 cores)
#   make bench BENCH_FULL=1    the full matrix (10 .. 1M records, ZooKeeper)
#   make bench BENCH_ARGS='--only lookup,modcost'   pass options to the driver
#
# The programs are built with everything else (so they keep compiling under
# gcc, clang and the sanitizers) but only `make bench` runs them, never
# `make check`. Results land in bench/results/<date>-<host>.{txt,md} and
# PNG charts beside them; docs/benchmarks.md explains the method.

BENCH_DIR := $(BUILD)/bench
BENCH_PROGS := $(BENCH_DIR)/bench-lookup $(BENCH_DIR)/bench-modcost \
	$(BENCH_DIR)/bench-poller $(BENCH_DIR)/bench-mkcache
BENCH_MODS := $(BENCH_DIR)/libnss_null.so.2 $(BENCH_DIR)/libnss_const.so.2

# The do-nothing module (NOTFOUND for everything) and the fixed-answer one.
$(BENCH_DIR)/libnss_null.so.2: bench/nss_null.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $< $(ALL_LDFLAGS) \
		-Wl,-soname,libnss_null.so.2
$(BENCH_DIR)/libnss_const.so.2: bench/nss_null.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DNULL_ANSWER -shared -o $@ $< $(ALL_LDFLAGS) \
		-Wl,-soname,libnss_const.so.2

$(BENCH_DIR)/bench-lookup: bench/bench-lookup.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)
$(BENCH_DIR)/bench-poller: bench/bench-poller.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)
$(BENCH_DIR)/bench-modcost: bench/bench-modcost.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) -llmdb -ldl

# Builds big caches through the real publisher (no ZooKeeper needed).
$(BENCH_DIR)/bench-mkcache: bench/bench-mkcache.c $(PUBLISH_LIB) $(COMMON_LIB) \
		$(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(PUBLISH_LIB) $(COMMON_LIB) $(ALL_LDFLAGS) \
		-llmdb

ALL_TARGETS += $(BENCH_PROGS) $(BENCH_MODS)

BENCH_FULL ?=
BENCH_ARGS ?=
bench: build-all $(BUILD)/tests/tools/zkh-publish
	/usr/bin/python3 bench/run.py --build $(BUILD) \
		$(if $(BENCH_FULL),--full) $(BENCH_ARGS)
	/usr/bin/python3 bench/zkdns/zkdnsbench.py --build $(BUILD)
